import { z } from 'zod';
import { parseEnvVariables } from '../env-variables';
import { decodeThreadsEnvSchema } from '../xenapi/decode-pool';
import { replyLimitsEnvSchema } from '../xenapi/limits';
import { ConfigError } from './pools';
import { isPostgresUrl } from '../store/url';

/**
 * General settings from the environment (Slack's own settings are in src/slack/settings.ts; a pool's password and
 * repository credentials are in the variables its pools-file entry names). Every variable is listed, commented, in
 * .env.example and the README; test/unit/env-settings.test.ts checks that every variable the code reads is declared
 * in one of the two schemas. Errors name the variable and what was expected, never its value.
 */

// at least a minute: the scheduler ticks every few seconds, and a smaller period would post a reminder on most ticks
const minutes = (fallback: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of minutes, like 30')
    .transform(Number)
    .refine((n) => n >= 1, 'must be at least 1 minute')
    .default(String(fallback));

/** a postgres:// URL must parse as one (a password with # or @ must be percent-encoded); anything else is a SQLite path */
const statePath = z
  .string()
  .min(1)
  .refine((s) => !isPostgresUrl(s) || URL.canParse(s), 'is not a valid postgres:// URL (percent-encode special characters of the password, e.g. # as %23)');

const envSchema = z.object({
  XSUPGRADE_POOLS: z.string().min(1).optional(),
  XSUPGRADE_STATE: statePath.default('./data/state.sqlite'),
  XSUPGRADE_BACKUPS: z.string().min(1).default('./data/backups'),
  XSUPGRADE_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { errorMap: () => ({ message: 'must be one of fatal, error, warn, info, debug, trace, silent' }) })
    .default('info'),
  XSUPGRADE_APPROVAL_REMINDER_MINUTES: minutes(30),
  XSUPGRADE_MIXED_MODE_REMINDER_MINUTES: minutes(12 * 60),
  /** R5.1 Tools checklist: a reminder in the run's thread this often until the list is empty or dismissed */
  XSUPGRADE_TOOLS_REMINDER_HOURS: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of hours, like 24')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 24 * 30, 'must be between 1 and 720 hours')
    .default('24'),
  /** how often the VMs still on the Tools checklist have their guest metrics read (3 XenAPI calls per VM left) */
  XSUPGRADE_TOOLS_CHECK_MINUTES: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of minutes, like 10')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 24 * 60, 'must be between 1 and 1440 minutes')
    .default('10'),
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
  // read by config/dotenv.ts before this validation: the env file to load instead of ./.env
  XSUPGRADE_ENV_FILE: z.string().min(1).optional(),
  // a fixed lease owner id (one per replica); default host:pid:random, new at every start
  XSUPGRADE_OWNER: z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'must be 1–128 letters, digits or ._:@- (an id for this bot instance, like bot-1)').optional(),
  // how often a waiting step re-reads the pool when no event arrives; every read may log in again while a master
  // reboots, so a too small value floods the pool (a negative one was once taken as "no wait": 787 logins in 10 s)
  XSUPGRADE_POLL_MS: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of milliseconds, like 5000')
    .transform(Number)
    .refine((n) => n >= 500 && n <= 600_000, 'must be between 500 and 600000 milliseconds')
    .default('5000'),
  // where permanent Slack refusals (bot not in a channel, channel archived…) are reported
  XSUPGRADE_OPERATOR_CHANNEL: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id, like C0123ABCD (not a #name)').optional(),
  XSUPGRADE_SANDBOX_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number between 0 and 65535')
    .transform(Number)
    .refine((p) => p <= 65535, 'must be a port number between 0 and 65535')
    .default('3000'),
  XSUPGRADE_DEMO_SCALE: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number, like 60 (how much faster simulated time runs)')
    .transform(Number)
    .refine((n) => n > 0 && n <= 100_000, 'must be greater than 0 and at most 100000')
    .default('60'),
})
  .merge(replyLimitsEnvSchema) // XenAPI reply limits (src/xenapi/limits.ts): checked at start-up, read by each client
  .merge(decodeThreadsEnvSchema); // decode threads for large replies (src/xenapi/decode-pool.ts)

/** Every general variable this module validates (the README and .env.example list the same). */
export const GENERAL_VARIABLES = Object.keys(envSchema.shape);

export interface GeneralSettings {
  poolsFile?: string;
  statePath: string;
  backupsDir: string;
  logLevel: string;
  /** fixed lease owner id (XSUPGRADE_OWNER), else one is made up at start */
  ownerId?: string;
  pollMs: number;
  operatorChannel?: string;
  sandboxPort: number;
  demoScale: number;
  /** the pool lease's time-to-live (XSUPGRADE_LEASE_TTL_SECONDS): the longest a dead replica holds a run */
  leaseTtlMs: number;
  scheduler: {
    approvalReminderAfterMs: number;
    approvalReminderEveryMs: number;
    mixedModeAfterMs: number;
    mixedModeEveryMs: number;
    overdueFactor: number;
  };
  /** the R5.1 Tools follow-up (src/tools/follow-up.ts) */
  tools: { remindEveryMs: number; checkEveryMs: number };
}

export function loadGeneralSettings(env: NodeJS.ProcessEnv = process.env): GeneralSettings {
  const e = parseEnvVariables(envSchema, env, (m) => new ConfigError(m));
  return {
    poolsFile: e.XSUPGRADE_POOLS,
    statePath: e.XSUPGRADE_STATE,
    backupsDir: e.XSUPGRADE_BACKUPS,
    logLevel: e.XSUPGRADE_LOG_LEVEL,
    ownerId: e.XSUPGRADE_OWNER,
    pollMs: e.XSUPGRADE_POLL_MS,
    operatorChannel: e.XSUPGRADE_OPERATOR_CHANNEL,
    sandboxPort: e.XSUPGRADE_SANDBOX_PORT,
    demoScale: e.XSUPGRADE_DEMO_SCALE,
    leaseTtlMs: e.XSUPGRADE_LEASE_TTL_SECONDS * 1000,
    scheduler: {
      approvalReminderAfterMs: e.XSUPGRADE_APPROVAL_REMINDER_MINUTES * 60_000,
      approvalReminderEveryMs: e.XSUPGRADE_APPROVAL_REMINDER_MINUTES * 60_000,
      mixedModeAfterMs: e.XSUPGRADE_MIXED_MODE_REMINDER_MINUTES * 60_000,
      mixedModeEveryMs: e.XSUPGRADE_MIXED_MODE_REMINDER_MINUTES * 60_000,
      overdueFactor: e.XSUPGRADE_OVERDUE_FACTOR,
    },
    tools: { remindEveryMs: e.XSUPGRADE_TOOLS_REMINDER_HOURS * 3_600_000, checkEveryMs: e.XSUPGRADE_TOOLS_CHECK_MINUTES * 60_000 },
  };
}
