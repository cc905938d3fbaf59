import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../log';

/**
 * Bolt and WebClient log through this adapter into our pino logger (with its secret redaction).
 * Their debug output includes request bodies, so it is only passed on at pino's debug level.
 */
export function boltLogger(logger: Logger, name = 'bolt'): SlackLogger {
  let child = logger.child({ component: name });
  const join = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg: unknown[]) => child.debug(join(msg)),
    info: (...msg: unknown[]) => child.info(join(msg)),
    warn: (...msg: unknown[]) => child.warn(join(msg)),
    error: (...msg: unknown[]) => child.error(join(msg)),
    // the level is pino's (XSUPGRADE_LOG_LEVEL); Bolt's setLevel calls are ignored
    setLevel: () => undefined,
    getLevel: () => (logger.isLevelEnabled('debug') ? LogLevel.DEBUG : LogLevel.INFO),
    setName: (n: string) => {
      child = logger.child({ component: n });
    },
  };
}
