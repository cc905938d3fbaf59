/** The XenAPI method table: arity, whether a session is needed, whether an `Async.` form exists. */
import { Machine, PoolState, Sim } from '../engine';
import { fail } from '../failure';
import { WireValue } from '../wire';

export interface ApiCtx {
  sim: Sim;
  pool: PoolState;
  machine: Machine;
  session: string;
  method: string;
  signal: AbortSignal;
  /** The task running this call (Async.), or null. */
  task: string | null;
  setProgress(p: number): void;
}

export interface MethodSpec {
  /** Parameters after the session. */
  params: number;
  /** Fewer trailing parameters accepted (data-model defaults). */
  min?: number;
  session?: boolean;
  async?: boolean;
  handler(ctx: ApiCtx, args: unknown[]): WireValue | Promise<WireValue>;
}

export const METHODS = new Map<string, MethodSpec>();

export function def(name: string, spec: MethodSpec): void {
  METHODS.set(name, spec);
}

// ---- argument decoding (xapi accepts ints as int or decimal string, floats as double/int/string) ----
export function str(v: unknown, what = 'string'): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return fail('FIELD_TYPE_ERROR', what);
}

export function num(v: unknown, what = 'number'): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) fail('FIELD_TYPE_ERROR', what);
  return n;
}

export function bool(v: unknown, what = 'bool'): boolean {
  if (typeof v === 'boolean') return v;
  return fail('FIELD_TYPE_ERROR', what);
}

export function strMap(v: unknown, what = 'map'): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('FIELD_TYPE_ERROR', what);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = typeof x === 'string' ? x : String(x);
  return out;
}

export function strList(v: unknown, what = 'set'): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) fail('FIELD_TYPE_ERROR', what);
  return (v as unknown[]).map((x) => str(x, what));
}
