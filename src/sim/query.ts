/**
 * xapi's `get_all_records_where` expression language (Db_filter: `true`, `false`, `not`, `and`, `or`,
 * `field "name" = "value"` and `"value" = field "name"`, parentheses). Field values are compared as xapi stores
 * them: as text (a ref, "true"/"false", an int64's decimal form). A malformed expression fails the call.
 */
import { fail } from './failure';

export type Expr =
  | { op: 'true' | 'false' }
  | { op: 'not'; e: Expr }
  | { op: 'and' | 'or'; l: Expr; r: Expr }
  | { op: 'eq'; l: Val; r: Val };
type Val = { field: string } | { literal: string };

type Tok = { t: 'word'; v: string } | { t: 'str'; v: string } | { t: '(' | ')' | '=' };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')' || c === '=') {
      out.push({ t: c });
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        v += src[i++];
      }
      if (i >= src.length) bad(src, 'unterminated string');
      i++;
      out.push({ t: 'str', v });
    } else if (/[A-Za-z_]/.test(c)) {
      let v = '';
      while (i < src.length && /[A-Za-z_]/.test(src[i]!)) v += src[i++];
      out.push({ t: 'word', v: v.toLowerCase() });
    } else bad(src, `unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

function bad(src: string, why: string): never {
  // xapi reports a filter it cannot parse as an internal error naming the expression
  return fail('INTERNAL_ERROR', `Db_filter.Expression_error("${src}", ${why})`);
}

/** Parses an expression; or < and < not, left-associative. */
export function parseQuery(src: string): Expr {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const word = (w: string) => peek()?.t === 'word' && (peek() as { v: string }).v === w;
  const orExpr = (): Expr => {
    let l = andExpr();
    while (word('or')) {
      p++;
      l = { op: 'or', l, r: andExpr() };
    }
    return l;
  };
  const andExpr = (): Expr => {
    let l = unary();
    while (word('and')) {
      p++;
      l = { op: 'and', l, r: unary() };
    }
    return l;
  };
  const value = (): Val => {
    const t = peek();
    if (t?.t === 'str') {
      p++;
      return { literal: t.v };
    }
    if (word('field')) {
      p++;
      const name = peek();
      if (name?.t !== 'str') bad(src, 'field needs a quoted name');
      p++;
      return { field: name.v };
    }
    return bad(src, 'expected field "name" or a quoted value');
  };
  const unary = (): Expr => {
    if (word('not')) {
      p++;
      return { op: 'not', e: unary() };
    }
    if (word('true') || word('false')) return { op: (toks[p++] as { v: 'true' | 'false' }).v };
    if (peek()?.t === '(') {
      p++;
      const e = orExpr();
      if (peek()?.t !== ')') bad(src, 'missing )');
      p++;
      return e;
    }
    const l = value();
    if (peek()?.t !== '=') bad(src, 'expected =');
    p++;
    return { op: 'eq', l, r: value() };
  };
  const e = orExpr();
  if (p !== toks.length) bad(src, 'trailing input');
  return e;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object' && v !== null && 'value' in v) return String((v as { value: unknown }).value);
  return String(v);
}

export function matches(e: Expr, rec: Record<string, unknown>): boolean {
  switch (e.op) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !matches(e.e, rec);
    case 'and':
      return matches(e.l, rec) && matches(e.r, rec);
    case 'or':
      return matches(e.l, rec) || matches(e.r, rec);
    case 'eq': {
      const val = (v: Val) => ('field' in v ? text(rec[v.field]) : v.literal);
      return val(e.l) === val(e.r);
    }
  }
}
