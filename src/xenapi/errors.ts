/**
 * Error types of the XenAPI client. Three families that callers must never confuse:
 * - XenApiError: the pool answered with a Failure (a XenAPI error code and its parameters);
 * - XenApiConnectionError: the host could not be reached (refused, reset, timed out, hung up);
 * - XenApiTimeoutError: a caller's deadline passed while waiting (task, event, reconnect).
 * Plus XenApiTlsError (certificate refused) and XenApiProtocolError (an answer that is not XML-RPC).
 * Messages are built from scrubbed text: the password never appears in them (see redact.ts).
 */

export class XenApiError extends Error {
  constructor(
    readonly code: string,
    readonly params: string[],
    readonly method: string,
    readonly host: string,
  ) {
    super(`${code}${params.length ? ` [${params.join(', ')}]` : ''} (${method} on ${host})`);
    this.name = 'XenApiError';
  }
}

export class XenApiConnectionError extends Error {
  constructor(
    message: string,
    readonly host: string,
    readonly method: string,
    /** the socket-level code, e.g. ECONNREFUSED, ECONNRESET, ETIMEDOUT */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'XenApiConnectionError';
  }
}

/** reconnect() gave up: no pool member answered as master before the deadline. */
export class XenApiReconnectTimeoutError extends XenApiConnectionError {
  constructor(message: string, host: string, readonly tried: string[]) {
    super(message, host, 'reconnect', 'ETIMEDOUT');
    this.name = 'XenApiReconnectTimeoutError';
  }
}

/** A caller's deadline passed (waiting for a task, an event condition). Not an API failure. */
export class XenApiTimeoutError extends Error {
  constructor(
    message: string,
    readonly what: string,
    readonly deadlineMs: number,
  ) {
    super(message);
    this.name = 'XenApiTimeoutError';
  }
}

/**
 * The task being waited on no longer exists (a master restart loses tasks with no `del` event, reference top 10;
 * or someone destroyed it). Its operation's outcome is unknown: reconcile with the pool, never re-send blindly.
 */
export class XenApiTaskLostError extends Error {
  constructor(
    message: string,
    readonly task: string,
    readonly method: string,
  ) {
    super(message);
    this.name = 'XenApiTaskLostError';
  }
}

/** The server's certificate was refused (chain, host name or pinned fingerprint). Never retried as "host down". */
export class XenApiTlsError extends Error {
  constructor(
    message: string,
    readonly host: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'XenApiTlsError';
  }
}

/** The host answered, but not with an XML-RPC reply we can read (HTTP 500 page, XML-RPC <fault>, bad XML). */
export class XenApiProtocolError extends Error {
  constructor(
    message: string,
    readonly host: string,
    readonly method: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'XenApiProtocolError';
  }
}

/** A reply larger or more deeply nested than the configured limits (issue 10.11); it was discarded unread. */
export class XenApiReplyLimitError extends XenApiProtocolError {
  constructor(message: string, host: string, method: string) {
    super(message, host, method);
    this.name = 'XenApiReplyLimitError';
  }
}

export function isXenApiError(e: unknown, code?: string): e is XenApiError {
  return e instanceof XenApiError && (code === undefined || e.code === code);
}
