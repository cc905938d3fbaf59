import { z } from 'zod';

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

const positiveInt = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number (${what})`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max} (${what})`);

export const replyLimitsEnvSchema = z.object({
  XSUPGRADE_XENAPI_MAX_REPLY_MB: positiveInt('megabytes per XenAPI reply, default 256', 1, 4096).optional(),
  XSUPGRADE_XENAPI_MAX_REPLY_DEPTH: positiveInt('nesting levels per XenAPI reply, default 32', 8, 1000).optional(),
});

/** Reply limits from the environment; an invalid value throws an Error naming the variable and what was expected. */
export function replyLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): ReplyLimits {
  const cleaned: Record<string, string> = {};
  for (const k of ['XSUPGRADE_XENAPI_MAX_REPLY_MB', 'XSUPGRADE_XENAPI_MAX_REPLY_DEPTH']) {
    const v = env[k]?.trim();
    if (v) cleaned[k] = v;
  }
  const parsed = replyLimitsEnvSchema.safeParse(cleaned);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('\n'));
  return {
    maxBytes: (parsed.data.XSUPGRADE_XENAPI_MAX_REPLY_MB ?? DEFAULT_REPLY_LIMITS.maxBytes / 1024 / 1024) * 1024 * 1024,
    maxDepth: parsed.data.XSUPGRADE_XENAPI_MAX_REPLY_DEPTH ?? DEFAULT_REPLY_LIMITS.maxDepth,
  };
}
