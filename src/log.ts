import pino, { Logger } from 'pino';

/**
 * Structured JSON logs, one event per line. Secrets are redacted by path so that a password
 * or token passed in a log object never reaches the output (tests scan for this).
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  'botToken',
  'appToken',
  'signingSecret',
  '*.signingSecret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'session',
  '*.session',
  'sessionRef',
  '*.sessionRef',
];

export type { Logger };

export function createLogger(opts: { level?: string; destination?: pino.DestinationStream; name?: string } = {}): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'xsupgrade',
    level: opts.level ?? process.env.XSUPGRADE_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything: the default for library code when none is injected. */
export const silentLogger: Logger = pino({ level: 'silent' });
