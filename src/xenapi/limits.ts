import { z } from 'zod';
import { parseEnvVariables, wholeNumberVariable } from '../env-variables';

/**
 * Bounds on one XenAPI reply (issue 10.11: a 24 MB deeply nested reply once drove the bot to 3.5 GB).
 * The defaults hold a 64-host pool with room to spare: its largest reply, VM.get_all_records of ~3,200 VMs, is
 * ~20 MB of XML from the simulator and a few times that from a real xapi with longer records; xapi's records
 * nest about 6 levels (reply → records → record → map → …).
 */
export interface ReplyLimits {
  maxBytes: number;
  maxDepth: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxBytes: 256 * 1024 * 1024, maxDepth: 32 };

export const replyLimitsEnvSchema = z.object({
  XSUPGRADE_XENAPI_MAX_REPLY_MB: wholeNumberVariable('megabytes per XenAPI reply, default 256', 1, 4096).optional(),
  XSUPGRADE_XENAPI_MAX_REPLY_DEPTH: wholeNumberVariable('nesting levels per XenAPI reply, default 32', 8, 1000).optional(),
});

/** Reply limits from the environment; an invalid value throws an Error naming the variable and what was expected. */
export function replyLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): ReplyLimits {
  const e = parseEnvVariables(replyLimitsEnvSchema, env);
  return {
    maxBytes: (e.XSUPGRADE_XENAPI_MAX_REPLY_MB ?? DEFAULT_REPLY_LIMITS.maxBytes / 1024 / 1024) * 1024 * 1024,
    maxDepth: e.XSUPGRADE_XENAPI_MAX_REPLY_DEPTH ?? DEFAULT_REPLY_LIMITS.maxDepth,
  };
}
