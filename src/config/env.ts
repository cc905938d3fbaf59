import { z } from 'zod';
import { replyLimitsEnvSchema } from '../xenapi/limits';
import { ConfigError } from './pools';

/**
 * General settings from the environment (Slack's own settings are in src/slack/settings.ts).
 * Every variable is listed, commented, in .env.example. Errors name the variable and what was expected.
 */

const minutes = (fallback: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of minutes, like 30')
    .transform(Number)
    .refine((n) => n > 0, 'must be greater than 0')
    .default(String(fallback));

const envSchema = z.object({
  XSUPGRADE_POOLS: z.string().min(1).optional(),
  XSUPGRADE_STATE: z.string().min(1).default('./data/state.sqlite'),
  XSUPGRADE_BACKUPS: z.string().min(1).default('./data/backups'),
  XSUPGRADE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  XSUPGRADE_APPROVAL_REMINDER_MINUTES: minutes(30),
  XSUPGRADE_MIXED_MODE_REMINDER_MINUTES: minutes(12 * 60),
  /** issue 16: how long a replica that stopped renewing keeps a pool's run before another takes over */
  XSUPGRADE_LEASE_TTL_SECONDS: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds, like 60')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 3600, 'must be between 1 and 3600')
    .default('60'),
  XSUPGRADE_OVERDUE_FACTOR: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number, like 3 (a step is overdue after 3× its expected duration)')
    .transform(Number)
    .refine((n) => n >= 1, 'must be at least 1')
    .default('3'),
}).merge(replyLimitsEnvSchema); // XenAPI reply limits (src/xenapi/limits.ts): checked at start-up, read by each client

export interface GeneralSettings {
  poolsFile?: string;
  statePath: string;
  backupsDir: string;
  logLevel: string;
  /** the pool lease's time-to-live (XSUPGRADE_LEASE_TTL_SECONDS): the longest a dead replica holds a run */
  leaseTtlMs: number;
  scheduler: {
    approvalReminderAfterMs: number;
    approvalReminderEveryMs: number;
    mixedModeAfterMs: number;
    mixedModeEveryMs: number;
    overdueFactor: number;
  };
}

export function loadGeneralSettings(env: NodeJS.ProcessEnv = process.env): GeneralSettings {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && v.trim() !== '') cleaned[k] = v.trim();
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('\n'));
  }
  const e = parsed.data;
  return {
    poolsFile: e.XSUPGRADE_POOLS,
    statePath: e.XSUPGRADE_STATE,
    backupsDir: e.XSUPGRADE_BACKUPS,
    logLevel: e.XSUPGRADE_LOG_LEVEL,
    leaseTtlMs: e.XSUPGRADE_LEASE_TTL_SECONDS * 1000,
    scheduler: {
      approvalReminderAfterMs: e.XSUPGRADE_APPROVAL_REMINDER_MINUTES * 60_000,
      approvalReminderEveryMs: e.XSUPGRADE_APPROVAL_REMINDER_MINUTES * 60_000,
      mixedModeAfterMs: e.XSUPGRADE_MIXED_MODE_REMINDER_MINUTES * 60_000,
      mixedModeEveryMs: e.XSUPGRADE_MIXED_MODE_REMINDER_MINUTES * 60_000,
      overdueFactor: e.XSUPGRADE_OVERDUE_FACTOR,
    },
  };
}
