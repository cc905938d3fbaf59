/**
 * Keeps secrets out of error messages and parameters the client builds: the password (a server might echo it,
 * an exception might quote a request) and session refs (bearer tokens for the whole pool).
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(password: string) {
    this.add(password);
  }

  add(secret: string | undefined): void {
    if (secret && secret.length >= 3) this.secrets.add(secret);
  }

  redact = (text: string): string => {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  };
}
