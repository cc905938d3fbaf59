import { XenApiError } from './errors';

/**
 * Keeps secrets out of every error text the XenAPI client hands to the bot (issue 10.8): the pool password (a server
 * might echo it, an exception might quote a request), session refs (bearer tokens for the whole pool), the other
 * known secrets the client was given (repository credentials a plugin may echo), and the `user:password@` part of any
 * URL. The client applies it where errors enter the bot (XenApiClient.send, task failures, the database dump), so
 * no call site has to remember it.
 */
/** The shortest piece of a secret that redactPieces removes (Redactor.add ignores secrets shorter than this). */
const PIECE = 3;

export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(password: string, others: Array<string | undefined> = []) {
    this.add(password);
    for (const s of others) this.add(s);
  }

  add(secret: string | undefined): void {
    if (!secret || secret.length < PIECE) return;
    // as given, and as it appears inside a URL, an XML or HTML text (an error page quoting the request) and a JSON string
    for (const form of [secret, encodeURIComponent(secret), ...markupEscaped(secret), JSON.stringify(secret).slice(1, -1)]) this.secrets.add(form);
  }

  redact = (text: string): string => {
    let out = withoutUrlCredentials(text);
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  };

  /**
   * For texts that quote a reply the bot could not read (a decoder's error quotes the characters where it stopped):
   * such a quote can hold a piece of a secret that a server echoed unescaped (`&dor-3-Secre` of `Tr0ub&dor-3-Secret`),
   * which redact, matching whole secrets, lets through. Every run of PIECE or more characters that is also in a
   * secret is removed too. Too eager for ordinary messages (a 3-letter word shared with the password), so only there.
   */
  redactPieces = (text: string): string => {
    const out = this.redact(text);
    let clean = '';
    for (let i = 0; i < out.length; ) {
      let len = 0;
      while (i + len < out.length && this.inSecret(out.slice(i, i + len + 1))) len++;
      if (len >= PIECE) {
        clean += '[redacted]';
        i += len;
      } else {
        clean += out[i];
        i++;
      }
    }
    return clean;
  };

  private inSecret(piece: string): boolean {
    for (const s of this.secrets) if (s.includes(piece)) return true;
    return false;
  }

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

/** A secret as XML-RPC and HTML pages write it: the five named entities, and quotes as numeric ones. */
function markupEscaped(secret: string): string[] {
  const base = secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [base.replace(/"/g, '&quot;').replace(/'/g, '&apos;'), base.replace(/"/g, '&#34;').replace(/'/g, '&#39;')];
}

/** user:password@ (or user@) in any URL of a text → [redacted]@ */
export function withoutUrlCredentials(text: string): string {
  return text.replace(/(\/\/)[^/@\s]+@/g, '$1[redacted]@');
}
