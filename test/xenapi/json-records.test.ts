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

/** Unkept members whose values are literals: numbers of every form, booleans, null. */
const unkeptLiterals = (rand: (n: number) => number): Record<string, unknown> => {
  const numbers = [0, -1, 42, 1.5, -0.25, 1e21, 6.02e-23, 123456789012];
  return { user_version: numbers[rand(numbers.length)], ha_always_run: rand(2) === 0, shadow: null, start_delay: numbers[rand(numbers.length)] };
};

function shuffled<T>(items: T[], rand: (n: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

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
        // the members in any order, with unkept ones of every kind of value, so kept and dropped ones alternate
        const fields = shuffled(Object.entries({ ...bad, ...unkeptLiterals(rand) }), rand);
        const body = fields.map(([k, v]) => `${space()}${JSON.stringify(k)}${space()}:${space()}${JSON.stringify(v, null, rand(3) === 0 ? 1 : undefined)}${space()}`);
        members.push(`${space()}${JSON.stringify(ref)}${space()}:${space()}{${body.join(',')}}${space()}`);
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
    // the members not kept are dropped before the pieces are cut: fewer pieces than the whole text makes
    expect(pieces.length).toBeGreaterThan(8);
    expect(pieces.length).toBeLessThan((text.length / (60 * 1024)) * 0.75);
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

describe('the members of a record the bot does not read: dropped before parsing', () => {
  const record = (members: string) => `{"result":{"OpaqueRef:a":{${members}}},"id":1}`;
  const kept = `"uuid":"u","name_label":"n","power_state":"Running","resident_on":"OpaqueRef:h","is_a_template":false,"is_control_domain":false,"memory_dynamic_min":"1","VBDs":[],"other_config":{}`;

  test.each([
    ['a comma missing after a member not kept', `"tags":[] ${kept}`],
    ['a comma missing before a member not kept', `${kept} "tags":[]`],
    ['no colon', `"tags" [],${kept}`],
    ['no value before a comma', `"tags":,${kept}`],
    ['no value before the record ends', `${kept},"tags":`],
    ['two values', `"tags":"a" "b",${kept}`],
    ['a string then a list', `"tags":"a"[],${kept}`],
    ['a literal that is not one', `"user_version":tru,${kept}`],
    ['a literal with a tail', `"user_version":nulls,${kept}`],
    ['a number with a leading zero', `"user_version":01,${kept}`],
    ['a number without digits after its point', `"user_version":1.,${kept}`],
    ['a number without an exponent', `"user_version":1e,${kept}`],
    ['a minus alone', `"user_version":-,${kept}`],
    ['a bracket closed by the other kind', `"tags":[},${kept}`],
    ['a trailing comma after a member not kept', `${kept},"tags":[],`],
    ['a leading comma before a member not kept', `,"tags":[],${kept}`],
    ['two commas between members not kept', `"tags":[],,"blobs":{},${kept}`],
    ['a key that is not a string', `tags:[],${kept}`],
    // with every member dropped, what is left of the record must not look like an empty one
    ['only members not kept and a trailing comma', `"tags":[],"blobs":{},`],
    ['a leading comma and only members not kept', `,"tags":[]`],
  ])('%s: refused as the whole parse refuses it', (_what, members) => {
    const text = record(members);
    expect(reference(text)).toEqual({ unreadable: true });
    expect(inPieces(text)).toEqual({ unreadable: true });
  });

  test.each([
    ['a kept key written with an escape is read', `"uu\\u0069d":"u2",${kept.replace('"uuid":"u",', '')}`],
    ['a key written with an escape that is not kept', `"t\\u0061gs":[],${kept}`],
    ['a kept key given twice: the last counts', `"uuid":"first","tags":[],${kept.replace('"uuid":"u"', '"uuid":"last"')}`],
    ['only members not kept', `"tags":[],"blobs":{}`],
    ['an empty record', ``],
    ['spaces around everything', ` "tags" : [ ] , ${kept.replace(/,/g, ' , ')} , "blobs" : { "a" : "b" } `],
    ['nested values not kept', `"xenstore_data":{"a":{"b":[1,{"c":null}]}},${kept},"tags":[[],[[]]]`],
    ['a string not kept with quotes and backslashes in it', `"name_description":"say \\"hi\\" \\\\",${kept}`],
  ])('%s: the same answer as the whole parse', (_what, members) => {
    const text = record(members);
    expect(inPieces(text)).toEqual(reference(text));
  });

  test('what is inside a value not kept is not parsed, as the XML decoder does not build a field it skips', () => {
    // the same flaw in a kept field refuses the reply
    const flawed = (field: string) => record(`${kept.replace('"other_config":{}', '')}"other_config":{},"${field}":{"a" "b"}`);
    const accepted = inPieces(flawed('xenstore_data')) as { records: Array<[string, Record<string, unknown>]> };
    expect(accepted.records.map(([ref, rec]) => [ref, rec.uuid])).toEqual([['OpaqueRef:a', 'u']]);
    expect(reference(flawed('xenstore_data'))).toEqual({ unreadable: true });
    expect(inPieces(record(`${kept.replace(',"other_config":{}', '')},"other_config":{"a" "b"}`))).toEqual({ unreadable: true });
  });

  test('a reply damaged anywhere by one byte is judged as the whole parse judges it (members not kept are literals)', () => {
    // literal values have no inside: every flaw a byte can make in a member not kept is one the shape check sees
    const rand = generator(23);
    const members = Array.from({ length: 6 }, (_, i) => {
      const fields = shuffled(Object.entries({ ...vm(i, `vm-${i}`), ...unkeptLiterals(rand) }).filter(([k]) => !['blobs', 'tags', 'xenstore_data', 'actions_after_crash', 'VCPUs_params'].includes(k)), rand);
      return `"OpaqueRef:vm-${i}":{${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
    });
    const text = `{"jsonrpc":"2.0","result":{${members.join(',')}},"id":1}`;
    const bytes = ',:{}[]0-.e tfn"\\x';
    let refused = 0;
    for (let round = 0; round < 3000; round++) {
      const at = rand(text.length);
      const edit = rand(3);
      const byte = bytes[rand(bytes.length)]!;
      const damaged = edit === 0 ? text.slice(0, at) + text.slice(at + 1) : edit === 1 ? text.slice(0, at) + byte + text.slice(at) : text.slice(0, at) + byte + text.slice(at + 1);
      const want = reference(damaged);
      expect({ damaged, got: inPieces(damaged) }).toEqual({ damaged, got: want });
      if (!('records' in (want as object))) refused++;
    }
    // most damage is refused; some (a digit changed, a space added) is not
    expect(refused).toBeGreaterThan(1000);
  });
});
