import type { Logger } from '../log';

/**
 * Process-level handlers for the long-running commands (`serve`, `start`): an unhandled promise rejection anywhere
 * (a library's detached promise, a listener bug) is logged and the process keeps serving. Node's default would end
 * the process, and with it every run it drives (issue 10.9). Only the message and stack are logged, never the
 * rejected value itself (it could carry a request or a credential). Installed once; returns its uninstaller.
 */
export function installProcessGuards(logger: Logger): () => void {
  const onRejection = (reason: unknown) => {
    const err = reason instanceof Error ? reason : undefined;
    logger.error({ err: err ? err.message : `non-Error rejection (${typeof reason})`, stack: err?.stack }, 'unhandled promise rejection: logged, the process keeps running');
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}
