import { z } from 'zod';

/**
 * Slack settings from the environment. Errors name each missing or invalid variable and what was
 * expected, and never echo a value (tokens and the signing secret are secrets).
 */
export interface SlackSettings {
  mode: 'http' | 'socket';
  botToken: string;
  /** required in HTTP mode (request signatures); unused in Socket Mode */
  signingSecret?: string;
  /** required in Socket Mode (xapp-…, scope connections:write) */
  appToken?: string;
  /** HTTP mode listening port (0 = any free port) */
  port: number;
  /** HTTP mode listening address: loopback only (put a reverse proxy in front) */
  host: string;
  /** Web API base URL, e.g. the sandbox's fake http://127.0.0.1:PORT/api/ */
  slackApiUrl?: string;
}

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Slack settings are incomplete or invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|::1)$/;

function httpsOrLoopback(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return u.protocol === 'http:' && LOOPBACK.test(host);
}

const envSchema = z.object({
  XSUPGRADE_SLACK_MODE: z.enum(['http', 'socket'], { errorMap: () => ({ message: 'must be "http" or "socket"' }) }).default('http'),
  SLACK_BOT_TOKEN: z
    .string({ required_error: 'is not set; expected the bot token (xoxb-…) from "OAuth & Permissions"' })
    .regex(/^xoxb-[A-Za-z0-9-]+$/, 'is not a bot token; expected a value starting with xoxb-'),
  SLACK_SIGNING_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9]{16,128}$/, 'is not a signing secret; expected the hex "Signing Secret" from "Basic Information"')
    .optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-[A-Za-z0-9-]+$/, 'is not an app-level token; expected a value starting with xapp- (scope connections:write)')
    .optional(),
  XSUPGRADE_PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number between 0 and 65535')
    .transform(Number)
    .refine((p) => p <= 65535, 'must be a port number between 0 and 65535')
    .default('3000'),
  XSUPGRADE_HOST: z
    .string()
    .regex(LOOPBACK, 'must be a loopback address (127.x.x.x, localhost or ::1); expose the bot through a reverse proxy')
    .default('127.0.0.1'),
  SLACK_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+\/$/, 'must be an http(s) URL ending with a slash, like http://127.0.0.1:4000/api/')
    // the bot token travels with every call: plain http only to this machine
    .refine(httpsOrLoopback, 'must be https://, or http:// to a loopback address (127.x.x.x, localhost, [::1]): the bot token would travel in clear')
    .optional(),
});

/** Empty strings count as unset (a blank line in .env). */
function withoutBlanks(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
  return out;
}

export function loadSlackSettings(env: NodeJS.ProcessEnv = process.env): SlackSettings {
  const parsed = envSchema.safeParse(withoutBlanks(env));
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')} ${issue.message}`);
  }
  const data = parsed.success ? parsed.data : undefined;
  const mode = data?.XSUPGRADE_SLACK_MODE ?? (env.XSUPGRADE_SLACK_MODE === 'socket' ? 'socket' : 'http');
  const set = withoutBlanks(env);
  if (mode === 'http' && set.SLACK_SIGNING_SECRET === undefined)
    problems.push('SLACK_SIGNING_SECRET is not set; HTTP mode needs the "Signing Secret" from "Basic Information"');
  if (mode === 'socket' && set.SLACK_APP_TOKEN === undefined)
    problems.push('SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token (xapp-…, scope connections:write)');
  if (problems.length > 0 || !data) throw new SettingsError(problems);
  return {
    mode: data.XSUPGRADE_SLACK_MODE,
    botToken: data.SLACK_BOT_TOKEN,
    signingSecret: data.SLACK_SIGNING_SECRET,
    appToken: data.SLACK_APP_TOKEN,
    port: data.XSUPGRADE_PORT,
    host: data.XSUPGRADE_HOST,
    slackApiUrl: data.SLACK_API_URL,
  };
}
