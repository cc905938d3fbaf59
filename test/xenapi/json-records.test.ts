/**
 * A get_all_records JSON-RPC reply decoded in pieces on a decode thread (src/xenapi/json-records.ts, issue 13): it
 * must give exactly what one JSON.parse and the record schemas give (decodeJsonWhole + parseAllRecords), or refuse
 * the reply with the same kind of error, whatever the shape, spacing, escapes and size of the reply.
 */
import { JsonDecodeError, decodeJsonWhole } from '../../src/xenapi/json-decode';
import { decodeJsonRecordsReply } from '../../src/xenapi/json-records';
import { RecordParseError, parseAllRecords } from '../../src/xenapi/records';

const MAX_DEPTH = 32;

/** What the whole parse gives: the envelope with an empty result and the records, or the error's kind and text. */
function reference(text: string): unknown {
  try {
    const env = decodeJsonWhole(text, MAX_DEPTH) as Record<string, unknown>;
    const ok = env !== null && typeof env === 'object' && !Array.isArray(env) && (env.error === undefined || env.error === null);
    const result = ok ? env.result : undefined;
    if (!ok || result === null || typeof result !== 'object' || Array.isArray(result)) return { envelope: env };
    const records = Object.entries(parseAllRecords('VM', result));
    return { envelope: { ...env, result: {} }, records };
  } catch (e) {
    return failure(e);
  }
}

/**
 * The decode in pieces, its records emitted piece by piece and put together as the decode pool puts them together
 * (`records[ref] = record`, in the order received): the same answer, and never a placeholder left in it.
 */
function inPieces(text: string): unknown {
  try {
    const received: Record<string, unknown> = {};
    let pieces = 0;
    const got = decodeJsonRecordsReply(Buffer.from(text), MAX_DEPTH, 'VM', (records) => {
      pieces++;
      for (const [ref, rec] of records) received[ref] = rec;
    });
    if (got.emitted === 0) return { envelope: got.envelope, ...(isRecordsReply(got.envelope) ? { records: [] } : {}) };
    expect(Object.values(received)).not.toContain(null);
    expect(pieces).toBeGreaterThan(0);
    return { envelope: got.envelope, records: Object.entries(received) };
  } catch (e) {
    return failure(e);
  }
}

/** an envelope whose result was emptied: its records (none here) were read */
const isRecordsReply = (env: unknown): boolean => {
  const result = (env as { result?: unknown } | null)?.result;
  return result !== null && typeof result === 'object' && !Array.isArray(result) && Object.keys(result).length === 0;
};

/** a record error must be the same record, field and reason; a JSON error only the same kind (positions differ) */
const failure = (e: unknown) => (e instanceof RecordParseError ? { refused: e.message } : e instanceof JsonDecodeError ? { unreadable: true } : { other: String(e) });

// mulberry32: a seeded generator, so a failure is the same failure on every run
function generator(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n) | 0;
  };
}

const vm = (i: number, name: string) => ({
  uuid: `uuid-${i}`,
  name_label: name,
  power_state: 'Running',
  resident_on: 'OpaqueRef:h1',
  is_a_template: false,
  is_control_domain: false,
  memory_dynamic_min: String(1024 * 1024 * (i + 1)),
  VBDs: [`OpaqueRef:vbd-${i}`],
  other_config: { pci: '', folder: '/x' },
  // fields the bot does not keep, as xapi sends ~90 of them
  blobs: {},
  tags: ['a', 'b'],
  xenstore_data: { 'vm-data/a': 'b', deep: 'x' },
  actions_after_crash: 'restart',
  VCPUs_params: { weight: '256' },
});

describe('a get_all_records reply over JSON-RPC, decoded in pieces', () => {
  test('random replies, several pieces each, decode exactly as one JSON.parse and the schemas do', () => {
    const rand = generator(11);
    const names = ['web-01', 'é→ü "quoted"', 'back\\slash', 'tab\there', '\u2028 line', 'ok'];
    const space = () => [' ', '', '\n', '\t', '  '][rand(5)]!;
    for (let round = 0; round < 40; round++) {
      const count = rand(400);
      const members: string[] = [];
      for (let i = 0; i < count; i++) {
        const rec = vm(i, names[rand(names.length)]!);
        // sometimes a ref twice (its last record counts, in its first place), sometimes a record with a bad field
        const ref = rand(20) === 0 && i > 0 ? `OpaqueRef:vm-${rand(i)}` : `OpaqueRef:vm-${i}`;
        const bad = rand(300) === 0 ? { ...rec, memory_dynamic_min: 'lots' } : rec;
        members.push(`${space()}${JSON.stringify(ref)}${space()}:${space()}${JSON.stringify(bad, null, rand(3) === 0 ? 1 : undefined)}${space()}`);
      }
      const keys = [`"jsonrpc":"2.0"`, `"result":{${members.join(',')}}`, `"id":${round}`];
      if (rand(2)) keys.reverse();
      const text = `${space()}{${space()}${keys.join(`,${space()}`)}${space()}}${space()}`;
      expect(inPieces(text)).toEqual(reference(text));
    }
  });

  test('a large reply is read in many pieces and gives every record', () => {
    const members = Array.from({ length: 3200 }, (_, i) => `"OpaqueRef:vm-${i}":${JSON.stringify(vm(i, `vm-${i}`))}`);
    const text = `{"jsonrpc":"2.0","result":{${members.join(',')}},"id":1}`;
    expect(text.length).toBeGreaterThan(20 * 60 * 1024);
    const got = inPieces(text) as { envelope: unknown; records: Array<[string, unknown]> };
    expect(got.records).toHaveLength(3200);
    expect(got).toEqual(reference(text));
    expect(got.records[3199]![1]).not.toHaveProperty('xenstore_data');
    // emitted piece by piece (about 60 KB each)
    const pieces: number[] = [];
    const emitted = decodeJsonRecordsReply(Buffer.from(text), MAX_DEPTH, 'VM', (records) => pieces.push(records.length));
    expect(pieces.length).toBeGreaterThan(20);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(3200);
    expect(emitted).toEqual({ envelope: got.envelope, emitted: 3200 });
  });

  test.each([
    ['a trailing comma in the result', '{"result":{"OpaqueRef:a":{},},"id":1}'],
    ['a leading comma', '{"result":{,"OpaqueRef:a":{}},"id":1}'],
    // records larger than a piece: each is a piece of its own, so the missing member is a piece of its own too
    ['two commas between records larger than a piece', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'.repeat(70_000)))},,"OpaqueRef:b":${JSON.stringify(vm(2, 'b'.repeat(70_000)))}},"id":1}`],
    ['a trailing comma after a record larger than a piece', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'.repeat(70_000)))},},"id":1}`],
    ['two commas', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))},,"OpaqueRef:b":${JSON.stringify(vm(2, 'b'))}},"id":1}`],
    ['truncated', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}`],
    ['truncated in a string', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}},"id":"1`],
    ['a bracket that does not match', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}],"id":1}`],
    ['garbage after the envelope', `{"result":{},"id":1} x`],
    ['nested deeper than the limit', `{"result":{"OpaqueRef:a":${'['.repeat(40)}${']'.repeat(40)}},"id":1}`],
    ['nested too deep outside the result', `{"result":{},"x":${'['.repeat(40)}${']'.repeat(40)}}`],
    ['a record with a wrong field', `{"result":{"OpaqueRef:a":${JSON.stringify({ ...vm(1, 'a'), is_a_template: 'no' })}},"id":1}`],
    ['a record with a missing field', `{"result":{"OpaqueRef:a":{"uuid":"u"}},"id":1}`],
    ['a record that is not an object', `{"result":{"OpaqueRef:a":"x"},"id":1}`],
  ])('%s: refused as the whole parse refuses it', (_what, text) => {
    const got = inPieces(text);
    expect(got).toEqual(reference(text));
    expect(got).not.toHaveProperty('records');
  });

  test.each([
    ['an error reply', '{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":["OpaqueRef:s"]},"id":1}'],
    ['an error beside a result', '{"error":["HOST_OFFLINE"],"result":{"OpaqueRef:a":{}},"id":1}'],
    ['a result that is a list', '{"result":["OpaqueRef:a"],"id":1}'],
    ['a result that is null', '{"result":null,"id":1}'],
    ['an empty result', '{"jsonrpc":"2.0","result":{},"id":1}'],
    ['an envelope that is a list', '[1,2,3]'],
    ['"result" given twice', `{"result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}},"result":{"OpaqueRef:b":${JSON.stringify(vm(2, 'b'))}},"id":1}`],
    ['"result" written with an escape', `{"res\\u0075lt":{"OpaqueRef:b":${JSON.stringify(vm(2, 'b'))}},"id":1}`],
    ['"result" as a value, not a key', `{"id":"result","result":{"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}}}`],
    ['a ref whose first record is wrong and whose last is right', `{"result":{"OpaqueRef:a":{"uuid":1},"OpaqueRef:b":${JSON.stringify(vm(2, 'b'))},"OpaqueRef:a":${JSON.stringify(vm(1, 'a'))}},"id":1}`],
  ])('%s: the same answer as the whole parse', (_what, text) => {
    expect(inPieces(text)).toEqual(reference(text));
  });

  test('a ref refused in one piece and given again, right, in a later piece keeps its first place', () => {
    const big = (i: number) => JSON.stringify(vm(i, 'x'.repeat(70_000))); // a piece per record
    const text = `{"result":{"OpaqueRef:a":{"uuid":1},"OpaqueRef:b":${big(2)},"OpaqueRef:a":${big(1)}},"id":1}`;
    const seen: Array<Array<[string, unknown]>> = [];
    decodeJsonRecordsReply(Buffer.from(text), MAX_DEPTH, 'VM', (records) => seen.push(records));
    expect(seen.map((piece) => piece.map(([ref, rec]) => [ref, rec === null ? null : 'record']))).toEqual([[['OpaqueRef:a', null]], [['OpaqueRef:b', 'record']], [['OpaqueRef:a', 'record']]]);
    expect(inPieces(text)).toEqual(reference(text));
    expect((inPieces(text) as { records: Array<[string, unknown]> }).records.map(([ref]) => ref)).toEqual(['OpaqueRef:a', 'OpaqueRef:b']);
  });
});
