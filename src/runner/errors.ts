/**
 * How steps fail, and how the runner classifies errors from the XenAPI client.
 * A StepFailure carries what an operator needs: words, the XenAPI code/params, and the facts observed.
 */
import type { StepError } from '../domain/types';
import { XenApiConnectionError, XenApiError, XenApiProtocolError, XenApiTaskLostError, XenApiTimeoutError } from '../xenapi';
import { isFenced } from './fencing';

export class StepFailure extends Error {
  readonly code?: string;
  readonly params?: string[];
  readonly observed?: string[];

  constructor(message: string, opts: { code?: string; params?: string[]; observed?: string[] } = {}) {
    super(message);
    this.name = 'StepFailure';
    this.code = opts.code;
    this.params = opts.params;
    this.observed = opts.observed;
  }
}

/** Thrown into a step's signal when the run must stop now (aborted elsewhere, lease lost, shutdown). */
export class RunInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunInterrupted';
  }
}

/**
 * This runner must stop touching the pool: the run was aborted or ended elsewhere, another replica took the pool over
 * (the store refused a write, or the lease check did), or the runner is stopping. Not the step's failure: a step that
 * acts on items one by one passes it on instead of counting it as that item's failure and going on to the next.
 */
export function isInterruption(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || err instanceof RunInterrupted || isFenced(err);
}

/** The XenAPI error code of a Failure answer (XenApiError, or a fake of the same shape in unit tests). */
export function xenErrorCode(err: unknown): string | undefined {
  if (err instanceof XenApiError) return err.code;
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; params?: unknown };
  if (typeof e.code === 'string' && Array.isArray(e.params)) return e.code;
  return undefined;
}

export function xenErrorParams(err: unknown): string[] {
  const p = (err as { params?: unknown })?.params;
  return Array.isArray(p) ? p.map(String) : [];
}

/** The pool could not be reached at all (XenApiConnectionError: refused, reset, timeout). */
export function isConnectionError(err: unknown): boolean {
  // a host going down mid-answer may also give an unreadable reply
  return err instanceof XenApiConnectionError || err instanceof XenApiProtocolError;
}

/**
 * Errors that mean "the master is away or a member is starting" (R3.8): expected while the master reboots,
 * retried after client.reconnect rather than failing a step.
 */
const POOL_UNAVAILABLE_CODES = new Set([
  'HOST_STILL_BOOTING',
  'HOST_IS_SLAVE',
  'HOST_IN_EMERGENCY_MODE',
  'HOST_HAS_NO_MANAGEMENT_IP',
  'HOST_MASTER_CANNOT_TALK_BACK',
  'HOST_UNKNOWN_TO_MASTER',
  'SESSION_INVALID',
]);

/**
 * A member whose xapi started while the master was away answers every call, logins included, with its emergency
 * error (R3.8, reference D2): HOST_STILL_BOOTING, then what its failed Pool.hello gave, often INTERNAL_ERROR. Only an
 * INTERNAL_ERROR answered to a login means that; any other INTERNAL_ERROR is a real failure of the call.
 */
function isEmergencyLoginAnswer(err: unknown): boolean {
  return xenErrorCode(err) === 'INTERNAL_ERROR' && /^session\.login/.test((err as { method?: unknown }).method as string);
}

/** Connection errors raised before a request is written (refused, or the name did not resolve): it never reached xapi. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The call `method`, as sent (`Async.VM.suspend`), never reached xapi, so it did not run: unlike a lost answer, its
 * outcome is known. Only the call's own error says so: the same code while its task is followed (event.from) comes
 * after the call went out.
 */
export function neverSent(err: unknown, method: string): boolean {
  return err instanceof XenApiConnectionError && err.method === method && NEVER_SENT_CODES.has(err.code ?? '');
}

export function isPoolUnavailable(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  // the task vanished (a master restart loses tasks): the step re-runs and reconciles with the live pool first
  if (err instanceof XenApiTaskLostError) return true;
  if (isEmergencyLoginAnswer(err)) return true;
  const code = xenErrorCode(err);
  return code !== undefined && POOL_UNAVAILABLE_CODES.has(code);
}

/**
 * Codes the bot gives to conditions it inferred itself (a wait that timed out, a version that did not change, no
 * answer at all…): never worded as something the pool answered (issue 11.9).
 */
export const BOT_CONCLUSION_CODES = new Set(['HOST_WAIT_TIMEOUT', 'UPGRADE_NOT_APPLIED', 'CONNECTION', 'NO_PLACEMENT', 'SHUTDOWN_UNKNOWN', 'SHUTDOWN_IN_PROGRESS', 'UNPLANNED_VERSION', 'ADDRESS_IN_USE', 'AWAITING_ADDRESS']);

/** Calls a step sent whose answer never came, told with the error that ends it (see withCallsInDoubt). */
const callsInDoubt = new WeakMap<object, string[]>();

/**
 * Marks `err` (the pool away: the engine re-runs the step, then fails it with this error) with the calls the step
 * sent whose answer never came, so that the failure names them rather than only "pool unreachable".
 */
export function withCallsInDoubt<E>(err: E, calls: string[]): E {
  if (err !== null && typeof err === 'object' && calls.length > 0) callsInDoubt.set(err, calls);
  return err;
}

export function toStepError(err: unknown): StepError {
  const doubt = err !== null && typeof err === 'object' ? callsInDoubt.get(err) : undefined;
  if (doubt && isConnectionError(err)) {
    const message = `pool unreachable: ${(err as Error).message}; sent before it went away, their answer never seen: ${doubt.join('; ')}. Their outcome is read from the pool before anything is sent again`;
    return { message, code: 'CONNECTION', concluded: true, observed: doubt };
  }

  if (err instanceof StepFailure) {
    const concluded = !err.code || BOT_CONCLUSION_CODES.has(err.code);
    return { message: err.message, code: err.code, params: err.params, observed: err.observed, ...(err.code ? { concluded } : {}) };
  }
  const code = xenErrorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code) return { message, code, params: xenErrorParams(err), concluded: false };
  if (isConnectionError(err)) return { message: `pool unreachable: ${message}`, code: 'CONNECTION', concluded: true };
  if (err instanceof XenApiTaskLostError) return { message: `${message}; its outcome is read from the pool before anything is sent again`, code: 'TASK_LOST', concluded: true };
  if (err instanceof XenApiTimeoutError) return { message: `${message}: the operation may still be running; it is not sent again`, code: 'TASK_DEADLINE', concluded: true };
  return { message };
}
