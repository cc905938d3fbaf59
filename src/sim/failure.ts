/** A XenAPI failure as xapi reports it: `{Status: "Failure", ErrorDescription: [code, ...params]}`. */
export class XapiFailure extends Error {
  readonly code: string;
  readonly params: string[];
  constructor(code: string, params: Array<string | number> = []) {
    super(`${code}(${params.join(', ')})`);
    this.code = code;
    this.params = params.map(String);
  }
  get description(): string[] {
    return [this.code, ...this.params];
  }
}

export function fail(code: string, ...params: Array<string | number>): never {
  throw new XapiFailure(code, params);
}
