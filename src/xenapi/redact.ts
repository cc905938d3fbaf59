import { XenApiError } from './errors';

/**
 * Keeps secrets out of every error text the XenAPI client hands to the bot (issue 10.8): the pool password (a server
 * might echo it, an exception might quote a request), session refs (bearer tokens for the whole pool), the other
 * known secrets the client was given (repository credentials a plugin may echo), and the `user:password@` part of any
 * URL. The client applies it where errors enter the bot (XenApiClient.send, task failures, the database dump), so
 * no call site has to remember it.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(password: string, others: Array<string | undefined> = []) {
    this.add(password);
    for (const s of others) this.add(s);
  }

  add(secret: string | undefined): void {
    if (!secret || secret.length < 3) return;
    this.secrets.add(secret);
    // as it appears inside a URL
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) this.secrets.add(encoded);
  }

  redact = (text: string): string => {
    let out = withoutUrlCredentials(text);
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  };

  /** The same error with its message and XenAPI parameters redacted (a new XenApiError, or the error updated). */
  scrub = (e: unknown): unknown => {
    if (e instanceof XenApiError) {
      const params = e.params.map(this.redact);
      if (params.every((p, i) => p === e.params[i])) return e;
      const clean = new XenApiError(e.code, params, e.method, e.host);
      clean.stack = e.stack && this.redact(e.stack);
      return clean;
    }
    if (e instanceof Error) {
      const message = this.redact(e.message);
      if (message !== e.message) {
        e.message = message;
        if (e.stack) e.stack = this.redact(e.stack);
      }
    }
    return e;
  };
}

/** user:password@ (or user@) in any URL of a text → [redacted]@ */
export function withoutUrlCredentials(text: string): string {
  return text.replace(/(\/\/)[^/@\s]+@/g, '$1[redacted]@');
}
