/**
 * GET /pool/xmldbdump: xapi's XML database format (reference xenapi.md §5). Column names join the
 * field path with `__`, sets are `('a' 'b')`, maps `(('k' 'v'))`. Tasks are not persisted (empty table);
 * during a rolling upgrade xapi writes a stub database, and so do we.
 */
import { Db } from './db';
import { CLASSES } from './records';
import { Double, formatXapiDate, WireValue } from './wire';

const NAMESPACES = ['name_', 'memory_', 'VCPUs_', 'actions_', 'PV_', 'HVM_', 'API_version_'];
const NOT_PERSISTED = new Set(['task']);

export function columnName(field: string): string {
  const ns = NAMESPACES.find((p) => field.startsWith(p) && field.length > p.length);
  return ns ? `${ns.slice(0, -1)}__${field.slice(ns.length)}` : field;
}

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function sexpr(v: WireValue): string {
  if (Array.isArray(v)) return `(${v.map((x) => quote(scalar(x))).join(' ')})`;
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Double))
    return `(${Object.entries(v).map(([k, x]) => `(${quote(k)} ${quote(scalar(x as WireValue))})`).join(' ')})`;
  return scalar(v);
}

function scalar(v: WireValue): string {
  if (v instanceof Date) return formatXapiDate(v);
  if (v instanceof Double) return String(v.value);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return sexpr(v);
  return String(v);
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The dump as a sequence of chunks (one per table), so the HTTP handler can stream it. */
export function* databaseDump(db: Db, opts: { stub: boolean }): Generator<string> {
  yield '<?xml version="1.0" encoding="UTF-8"?>\n<database>';
  yield `<manifest><pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="120"/><pair key="generation_count" value="${db.generation}"/></manifest>`;
  for (const cls of CLASSES) {
    if (opts.stub || NOT_PERSISTED.has(cls)) {
      yield `<table name="${cls}"/>`;
      continue;
    }
    const rows = db.entries(cls).map(([ref, rec]) => {
      const cols = Object.entries(rec).map(([f, v]) => ` ${columnName(f)}="${attr(sexpr(v))}"`);
      return `<row ref="${ref}" __ctime="" __mtime=""${cols.join('')}/>`;
    });
    yield `<table name="${cls}">${rows.join('')}</table>`;
  }
  yield '</database>\n';
}
