import { Writable } from 'node:stream';
import { createLogger, Logger } from '../../../src/log';

/** A real pino logger (with the project's redaction) whose JSON lines a test can read and scan. */
export function captureLogs(level = 'debug'): { logger: Logger; lines: string[]; entries: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level, destination });
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
