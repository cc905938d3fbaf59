/**
 * The conversion from records in batches (issue 13): readSnapshot folds each class's batches one at a time
 * (inventory/convert.ts snapshotFromBatches) instead of converting whole records. It must give exactly the snapshot
 * the whole records give, however the records are cut into batches, and keep the reply's rule for a ref given again
 * (its last record counts) and for a refused record's place (null, replaced later: decode-protocol.ts RecordsBatch).
 */
import { serialize } from 'node:v8';
import { syntheticScenario } from '../../bench/plan';
import { readSnapshot, toSnapshot, type PoolRecordBatches, type PoolRecords, type RecordSource } from '../../src/inventory';
import { snapshotFromBatches } from '../../src/inventory/convert';
import { parseScenario, startSimulator, type SimPool } from '../../src/sim';
import { RECORD_CLASSES, XenApiClient } from '../../src/xenapi';
import { DecodePool } from '../../src/xenapi/decode-pool';
import { RecordBatches, type RecordsOf } from '../../src/xenapi/record-batches';
import type { RecordClass } from '../../src/xenapi/records';

let sim: SimPool;
let whole: PoolRecords;

beforeAll(async () => {
  sim = await startSimulator(parseScenario(syntheticScenario(3, 40), 'batches'));
  const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport: 'jsonrpc', decodePool: new DecodePool({ threads: 0 }) });
  try {
    const records = await Promise.all(RECORD_CLASSES.map((cls) => client.getAllRecords(cls)));
    whole = Object.fromEntries(RECORD_CLASSES.map((cls, i) => [cls, records[i]])) as PoolRecords;
  } finally {
    await client.logout();
  }
});
afterAll(async () => {
  await sim.stop();
});

type Part = Record<string, unknown>;

/** Each class cut into batches of `size` records, serialized as a decode thread sends them; `edit` may add parts. */
function inBatches(size: number, edit: (cls: RecordClass, parts: Part[]) => Part[] = (_c, p) => p): PoolRecordBatches {
  const out: Record<string, RecordBatches> = {};
  for (const cls of RECORD_CLASSES) {
    const entries = Object.entries(whole[cls] ?? {});
    const parts: Part[] = [];
    for (let i = 0; i < entries.length; i += size) parts.push(Object.fromEntries(entries.slice(i, i + size)));
    out[cls] = new RecordBatches(cls, edit(cls, parts).map((p) => new Uint8Array(serialize(p))) as Array<RecordsOf<typeof cls> | Uint8Array>);
  }
  return out as PoolRecordBatches;
}

const clone = <T>(v: T): T => structuredClone(v);

test.each([1, 7, 400])('records in serialized batches of %i: exactly the snapshot of the whole records', async (size) => {
  const batches = inBatches(size);
  expect(batches.VM.count).toBe(Math.ceil(Object.keys(whole.VM).length / size));
  expect(await snapshotFromBatches(batches, 5)).toEqual(toSnapshot(whole, 5));
});

test('a ref given again in a later batch counts once, as its last record says', async () => {
  const [vmRef, vm] = Object.entries(whole.VM).find(([, v]) => !v.is_control_domain && v.power_state === 'Running' && v.VBDs.length > 0)!;
  const [otherHost] = Object.keys(whole.host).filter((h) => h !== vm.resident_on);
  const [vbdRef] = vm.VBDs;
  const vdiRef = whole.VBD[vbdRef!]!.VDI;
  const [otherSr] = Object.keys(whole.SR).filter((s) => s !== whole.VDI[vdiRef]!.SR);
  const batches = inBatches(7, (cls, parts) => {
    // an earlier record of the same ref, in a batch of its own before the others: resident elsewhere, a CD, another SR
    if (cls === 'VM') return [{ [vmRef]: { ...clone(vm), resident_on: otherHost, memory_dynamic_min: vm.memory_dynamic_min * 9, name_label: 'earlier' } }, ...parts];
    if (cls === 'VBD') return [{ [vbdRef!]: { ...clone(whole.VBD[vbdRef!]!), type: 'CD' } }, ...parts];
    if (cls === 'VDI') return [{ [vdiRef]: { ...clone(whole.VDI[vdiRef]!), SR: otherSr } }, ...parts];
    return parts;
  });
  const got = await snapshotFromBatches(batches, 5);
  expect(got).toEqual(toSnapshot(whole, 5));
  expect(got.vms.filter((v) => v.ref === vmRef)).toHaveLength(1);
});

test('a VM whose last record is a template is not a VM of the snapshot, nor resident on its host', async () => {
  const [vmRef, vm] = Object.entries(whole.VM).find(([, v]) => !v.is_control_domain && v.power_state === 'Running')!;
  const template = { ...clone(vm), is_a_template: true, power_state: 'Halted', resident_on: 'OpaqueRef:NULL' };
  const expected = toSnapshot({ ...whole, VM: { ...whole.VM, [vmRef]: template } }, 5);
  const got = await snapshotFromBatches(
    inBatches(7, (cls, parts) => (cls === 'VM' ? [...parts, { [vmRef]: template }] : parts)),
    5,
  );
  expect(got).toEqual(expected);
  expect(got.vms.some((v) => v.ref === vmRef)).toBe(false);
  expect(got.hosts.find((h) => h.ref === vm.resident_on)!.residentVms).not.toContain(vmRef);
});

test('the place of a refused record (null) taken by a later record of the same ref: the later record counts', async () => {
  const [vmRef] = Object.entries(whole.VM).find(([, v]) => !v.is_control_domain)!;
  const got = await snapshotFromBatches(
    inBatches(7, (cls, parts) => (cls === 'VM' ? [{ [vmRef]: null }, ...parts] : cls === 'VBD' ? [{ [Object.keys(whole.VBD)[0]!]: null }, ...parts] : parts)),
    5,
  );
  expect(got).toEqual(toSnapshot(whole, 5));
});

test('RecordBatches.whole: each ref once, in the place of its first record, with its last record; null places filled', async () => {
  const b = new RecordBatches('host_metrics', [
    new Uint8Array(serialize({ 'OpaqueRef:a': { live: true, memory_total: 1 }, 'OpaqueRef:b': null })),
    { 'OpaqueRef:c': { live: true, memory_total: 3 } },
    new Uint8Array(serialize({ 'OpaqueRef:a': { live: false, memory_total: 2 }, 'OpaqueRef:b': { live: true, memory_total: 4 } })),
  ] as Array<RecordsOf<'host_metrics'> | Uint8Array>);
  const records = await b.whole();
  expect(Object.keys(records)).toEqual(['OpaqueRef:a', 'OpaqueRef:b', 'OpaqueRef:c']);
  expect(records).toEqual({ 'OpaqueRef:a': { live: false, memory_total: 2 }, 'OpaqueRef:b': { live: true, memory_total: 4 }, 'OpaqueRef:c': { live: true, memory_total: 3 } });
  // nothing is kept between two passes: each pass deserializes again, so a caller's changes do not leak into the next
  const [first] = b.batches();
  (first as Record<string, unknown>)['OpaqueRef:a'] = 'changed';
  expect([...b.batches()][0]!['OpaqueRef:a']).toEqual({ live: true, memory_total: 1 });
});

describe('readSnapshot converts each class as its reply comes', () => {
  /** A source whose reads of `held` classes wait for the test; every read gives its records as batches of 7. */
  function heldSource(held: RecordClass[], fail?: { cls: RecordClass; err: Error }, edit?: (cls: RecordClass, parts: Part[]) => Part[]) {
    const batches = inBatches(7, edit);
    const gates = new Map<RecordClass, () => void>();
    const passes: RecordClass[] = [];
    const source: RecordSource = {
      getAllRecords: async () => Promise.reject(new Error('readSnapshot reads batches')),
      getAllRecordBatches: async <C extends RecordClass>(cls: C) => {
        if (held.includes(cls)) await new Promise<void>((r) => gates.set(cls, r));
        if (fail?.cls === cls) throw fail.err;
        const b = batches[cls as keyof PoolRecordBatches] as unknown as RecordBatches<C>;
        // which classes the conversion has started reading, in order
        const read = b.batches.bind(b);
        b.batches = function* () {
          passes.push(cls);
          yield* read();
        };
        return b;
      },
    };
    return { source, passes, release: (cls: RecordClass) => gates.get(cls)!() };
  }
  const settle = () => new Promise((r) => setTimeout(r, 20));
  // a rejection nobody handles (a conversion left running after its read failed) fails the test
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeEach(() => process.on('unhandledRejection', onUnhandled));
  afterEach(async () => {
    await settle();
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('folds the VDI and VBD records while the VM records are still read, and gives the whole snapshot once they are in', async () => {
    const { source, passes, release } = heldSource(['VM']);
    const reading = readSnapshot(source, { now: () => 5, sleep: async () => undefined, scale: 1 });
    await settle();
    expect(passes).toEqual(expect.arrayContaining(['VDI', 'VBD', 'VM_guest_metrics']));
    expect(passes).not.toContain('VM');
    release('VM');
    expect(await reading).toEqual(toSnapshot(whole, 5));
  });

  it('converts the VM records while the VBD, VDI and metrics records are still read, whichever comes last', async () => {
    const late: RecordClass[] = ['VBD', 'VDI', 'VM_metrics', 'VM_guest_metrics'];
    for (const last of late) {
      const { source, passes, release } = heldSource(late);
      const reading = readSnapshot(source, { now: () => 5, sleep: async () => undefined, scale: 1 });
      await settle();
      expect(passes).toContain('VM');
      for (const cls of late.filter((c) => c !== last)) release(cls);
      await settle();
      expect(passes).toEqual(expect.arrayContaining(late.filter((c) => c !== last)));
      release(last);
      expect(await reading).toEqual(toSnapshot(whole, 5));
    }
  });

  it('a read that fails after other classes were converted is the error; nothing is left unhandled', async () => {
    const down = new Error('connect ECONNRESET');
    const { source, passes, release } = heldSource(['VM'], { cls: 'VM', err: down });
    const reading = readSnapshot(source);
    await settle();
    expect(passes).toContain('VDI');
    release('VM');
    await expect(reading).rejects.toBe(down);
  });

  it('a read that fails after another class could not be converted: the read’s error, not the conversion’s', async () => {
    const down = new Error('connect ECONNRESET');
    const [vmRef, vm] = Object.entries(whole.VM).find(([, v]) => !v.is_control_domain && !v.is_a_template)!;
    // a power state the conversion refuses, seen while the VIF records are still read
    const frozen = (cls: RecordClass, parts: Part[]) => (cls === 'VM' ? [...parts, { [vmRef]: { ...clone(vm), power_state: 'Frozen' } }] : parts);
    const { source, passes, release } = heldSource(['VIF'], { cls: 'VIF', err: down }, frozen);
    const reading = readSnapshot(source);
    await settle();
    expect(passes).toContain('VM');
    release('VIF');
    await expect(reading).rejects.toBe(down);
    // and without the failed read, that conversion's own error
    const again = heldSource([], undefined, frozen);
    await expect(readSnapshot(again.source)).rejects.toThrow(`VM ${vmRef}: field power_state: expected one of Running, Halted, Suspended, Paused, got "Frozen"`);
  });
});
