/**
 * The pool database: one table per XenAPI class, records keyed by `OpaqueRef:<uuid>` holding wire
 * field names. Every change bumps a generation counter, which is what `event.from` tokens count.
 * One-to-many relations (VM.resident_on ↔ host.resident_VMs, …) are kept in step here, and a
 * change to a relation also produces a `mod` event on the other side, as xapi's database does.
 */
import { randomUUID } from 'node:crypto';
import { Double, Encoded, encodeRecord, WireValue } from './wire';
import { fail } from './failure';

export type Rec = Record<string, WireValue>;

export const NULL_REF = 'OpaqueRef:NULL';
export const newRef = (): string => `OpaqueRef:${randomUUID()}`;

/** Child field → the parent's set field that lists the children. */
const RELATIONS: Record<string, Record<string, { cls: string; field: string }>> = {
  VM: { resident_on: { cls: 'host', field: 'resident_VMs' } },
  VBD: { VM: { cls: 'VM', field: 'VBDs' }, VDI: { cls: 'VDI', field: 'VBDs' } },
  VDI: { SR: { cls: 'SR', field: 'VDIs' } },
  PBD: { SR: { cls: 'SR', field: 'PBDs' }, host: { cls: 'host', field: 'PBDs' } },
  PIF: { network: { cls: 'network', field: 'PIFs' }, host: { cls: 'host', field: 'PIFs' } },
  VIF: { VM: { cls: 'VM', field: 'VIFs' }, network: { cls: 'network', field: 'VIFs' } },
};

/** Fields that are floats on the wire (`<double>`); every other number is an int64. */
const FLOAT_FIELDS: Record<string, string[]> = { task: ['progress'] };

interface Meta {
  created: number;
  modified: number;
}

export interface Change {
  cls: string;
  ref: string;
  created: number;
  modified: number;
  deleted?: number;
}

export function deepCopy<T extends WireValue>(v: T): T {
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (Array.isArray(v)) return v.map((x) => deepCopy(x)) as T;
  if (v !== null && typeof v === 'object' && !(v instanceof Double)) {
    const out: Record<string, WireValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = deepCopy(x as WireValue);
    return out as T;
  }
  return v;
}

export class Db {
  private readonly tables = new Map<string, Map<string, Rec>>();
  private readonly meta = new Map<string, Meta>();
  private tombstones: Change[] = [];
  generation = 0;
  private waiters = new Set<() => void>();
  /**
   * Wire encoding per record, valid while the record's `modified` generation is unchanged. Every change goes
   * through create/update/mutate/delete or a relation link, all of which move `modified` (touch), so a stale
   * entry is never served. Reading a large pool is then mostly string concatenation of cached records.
   */
  private readonly encodings = new Map<string, { modified: number; value: Encoded }>();
  /**
   * A class's whole ref → record struct (get_all_records), encoded once and served again while it holds the very
   * same refs and record encodings in the same order (checked per call: identity of each cached record encoding),
   * so an unchanged 64-host VM list is not joined again from 3,200 pieces on every read (issue 13).
   */
  private readonly allEncodings = new Map<string, { refs: string[]; recs: Encoded[]; value: Encoded; checkedAt: number }>();

  constructor(readonly classes: string[]) {
    for (const c of classes) this.tables.set(c, new Map());
  }

  private table(cls: string): Map<string, Rec> {
    const t = this.tables.get(cls);
    if (!t) throw new Error(`unknown class ${cls}`);
    return t;
  }

  private touch(ref: string): void {
    const m = this.meta.get(ref);
    if (m) m.modified = this.generation;
  }

  private bump(): void {
    this.generation++;
  }

  private notify(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Resolves at the next change (used by event.from). Returns an unsubscribe function. */
  onNextChange(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  create(cls: string, rec: Rec, ref = newRef()): string {
    this.bump();
    this.table(cls).set(ref, rec);
    this.meta.set(ref, { created: this.generation, modified: this.generation });
    const rels = RELATIONS[cls] ?? {};
    for (const [field, rel] of Object.entries(rels)) this.link(rel, rec[field] as string, ref);
    this.notify();
    return ref;
  }

  has(cls: string, ref: string): boolean {
    return this.table(cls).has(ref);
  }

  /** The live record (callers must not keep it across awaits). HANDLE_INVALID for unknown refs. */
  get(cls: string, ref: string): Rec {
    const r = this.table(cls).get(ref);
    if (!r) fail('HANDLE_INVALID', cls, ref);
    return r;
  }

  find(cls: string, ref: string): Rec | undefined {
    return this.table(cls).get(ref);
  }

  refs(cls: string): string[] {
    return [...this.table(cls).keys()];
  }

  entries(cls: string): Array<[string, Rec]> {
    return [...this.table(cls).entries()];
  }

  /** A copy for the wire, with float fields wrapped as `<double>`. */
  snapshot(cls: string, ref: string): Rec {
    const rec = deepCopy(this.get(cls, ref) as WireValue) as Rec;
    for (const f of FLOAT_FIELDS[cls] ?? []) if (typeof rec[f] === 'number') rec[f] = new Double(rec[f] as number);
    return rec;
  }

  /** The record's XML-RPC encoding (float fields as `<double>`), cached until it changes. */
  encoded(cls: string, ref: string): Encoded {
    const rec = this.get(cls, ref);
    const modified = this.meta.get(ref)!.modified;
    const hit = this.encodings.get(ref);
    if (hit && hit.modified === modified) return hit.value;
    const value = encodeRecord(rec, FLOAT_FIELDS[cls]);
    this.encodings.set(ref, { modified, value });
    return value;
  }

  /** All records of `cls` as one struct (ref → record encoding), cached as long as none of them changed. */
  encodedAll(cls: string): Encoded {
    const hit = this.allEncodings.get(cls);
    // every change bumps the generation: none since the last check, nothing to look at (3,200 VMs checked one by
    // one were ~20 ms of the simulator's CPU per 64-host read, taken from the client reading it on the same machine)
    if (hit?.checkedAt === this.generation) return hit.value;
    const refs = this.refs(cls);
    const recs = refs.map((ref) => this.encoded(cls, ref));
    if (hit && hit.refs.length === refs.length && hit.refs.every((r, i) => r === refs[i] && hit.recs[i] === recs[i])) {
      hit.checkedAt = this.generation;
      return hit.value;
    }
    const struct: Record<string, WireValue> = {};
    refs.forEach((ref, i) => (struct[ref] = recs[i]!));
    const value = encodeRecord(struct);
    this.allEncodings.set(cls, { refs, recs, value, checkedAt: this.generation });
    return value;
  }

  static wireField(cls: string, field: string, v: WireValue): WireValue {
    if ((FLOAT_FIELDS[cls] ?? []).includes(field) && typeof v === 'number') return new Double(v);
    return deepCopy(v);
  }

  private link(rel: { cls: string; field: string }, parent: string | undefined, child: string): void {
    if (!parent || parent === NULL_REF) return;
    const p = this.table(rel.cls).get(parent);
    if (!p) return;
    const set = p[rel.field] as string[];
    if (!set.includes(child)) set.push(child);
    this.touch(parent);
  }

  private unlink(rel: { cls: string; field: string }, parent: string | undefined, child: string): void {
    if (!parent || parent === NULL_REF) return;
    const p = this.table(rel.cls).get(parent);
    if (!p) return;
    p[rel.field] = (p[rel.field] as string[]).filter((r) => r !== child);
    this.touch(parent);
  }

  /** Set fields of one record (one generation for the whole change). */
  update(cls: string, ref: string, fields: Rec): void {
    const rec = this.get(cls, ref);
    this.bump();
    const rels = RELATIONS[cls] ?? {};
    for (const [field, value] of Object.entries(fields)) {
      const rel = rels[field];
      if (rel && rec[field] !== value) {
        this.unlink(rel, rec[field] as string, ref);
        this.link(rel, value as string, ref);
      }
      rec[field] = value;
    }
    this.touch(ref);
    this.notify();
  }

  /** Mutate a map/set field in place (other_config etc.) and record the change. */
  mutate(cls: string, ref: string, fn: (rec: Rec) => void): void {
    const rec = this.get(cls, ref);
    this.bump();
    fn(rec);
    this.touch(ref);
    this.notify();
  }

  delete(cls: string, ref: string): void {
    const rec = this.get(cls, ref);
    this.bump();
    const rels = RELATIONS[cls] ?? {};
    for (const [field, rel] of Object.entries(rels)) this.unlink(rel, rec[field] as string, ref);
    this.table(cls).delete(ref);
    this.encodings.delete(ref);
    const m = this.meta.get(ref)!;
    this.meta.delete(ref);
    this.tombstones.push({ cls, ref, created: m.created, modified: this.generation, deleted: this.generation });
    // a bounded queue of deletions, as xapi's per-table deleted queue: older ones are dropped silently (reference K3)
    if (this.tombstones.length > 5000) this.tombstones.splice(0, 1000);
    this.notify();
  }

  /**
   * Objects changed after `since` (generation), with the deletions still queued. Like xapi's event.from, never
   * EVENTS_LOST: deletions older than the queue are silently missing (reference K3).
   */
  changesSince(since: number): Change[] {
    const out: Change[] = [];
    for (const [cls, table] of this.tables)
      for (const ref of table.keys()) {
        const m = this.meta.get(ref)!;
        if (m.modified > since) out.push({ cls, ref, created: m.created, modified: m.modified });
      }
    for (const t of this.tombstones) if (t.deleted! > since && t.created <= since) out.push(t);
    return out;
  }

  /**
   * Drop every record of a class with no deletion event (xapi keeps tasks in memory only: after a master restart a
   * waiter on `task/<ref>` sees nothing at all, reference top 10).
   */
  purge(cls: string): void {
    const refs = this.refs(cls);
    if (refs.length === 0) return;
    this.bump();
    for (const ref of refs) {
      const rec = this.get(cls, ref);
      for (const [field, rel] of Object.entries(RELATIONS[cls] ?? {})) this.unlink(rel, rec[field] as string, ref);
      this.table(cls).delete(ref);
      this.encodings.delete(ref);
      this.meta.delete(ref);
    }
    this.notify();
  }

  /** Drop every record of a class (tasks and sessions are not persisted across a master restart). */
  clear(cls: string): void {
    for (const ref of this.refs(cls)) this.delete(cls, ref);
  }
}
