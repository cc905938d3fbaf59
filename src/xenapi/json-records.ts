/**
 * A get_all_records reply over JSON-RPC, decoded on a decode thread (decode-worker.ts) from its bytes, its records
 * parsed and validated in pieces of about PIECE_BYTES (issue 13).
 *
 * One JSON.parse of a 64-host VM list builds ~90 fields × 3,200 records; they all live until the last record is
 * validated, so the garbage collector copies and promotes them, and the reply's text is one large string of fresh
 * memory. In pieces, each record's unkept fields die young, and no string is larger than a piece: about half the
 * CPU (measured on the 64-host replies, docs/benchmarks.md §7).
 *
 * The result, the emitted records assigned in turn to one object, is exactly that of decodeJsonWhole +
 * parseAllRecords, or the same kind of error: one pass over the
 * bytes checks the nesting depth of the whole reply (outside strings) and finds the envelope's "result" object and
 * the commas between its members; the envelope is parsed with that object left empty, and the members piece by
 * piece, each piece a JSON object of its own (so each is checked as JSON.parse checks the whole). Any reply of
 * another shape (an error, a result that is not an object, a key written with escapes) is parsed whole.
 */
import { JsonDecodeError, decodeJsonWhole, parseJson } from './json-decode';
import { RecordParseError, parseRecord, type RecordClass, type RecordOf } from './records';

/** Below V8's regular object size: a piece's text is an ordinary young string (json-decode.ts, decode-worker.ts). */
const PIECE_BYTES = 60 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const RESULT_KEY = Buffer.from('"result"');
/** found's mark for a record handed to `emit` (not kept here) */
const EMITTED = Symbol('emitted');

export interface JsonRecordsReply {
  /** the reply as JSON.parse would give it; when records were emitted, its result is an empty object */
  envelope: unknown;
  /** how many records were emitted (0: the reply is the envelope alone) */
  emitted: number;
}

/**
 * A piece's records as soon as it is read, in the order of the reply. A ref may come again in a later piece: its
 * last record counts, in its first place, as when the receiver assigns them in turn to one object
 * (`records[ref] = record`, as JSON.parse does). A refused record is emitted as null, to hold its ref's place: the
 * reply is refused at the end (and the receiver drops what it received) unless a later record of that ref replaces it.
 */
export type EmitRecords<C extends RecordClass> = (records: Array<[string, RecordOf<C> | null]>) => void;

/**
 * The reply `bytes` to get_all_records of `cls`: depth-checked against maxDepth, its records validated (RecordParseError)
 * and handed to `emit` piece by piece (decode-worker.ts sends them on while the next piece is read).
 */
export function decodeJsonRecordsReply<C extends RecordClass>(bytes: Buffer, maxDepth: number, cls: C, emit: EmitRecords<C>): JsonRecordsReply {
  const layout = scan(bytes, maxDepth);
  if (!layout) return whole(bytes, maxDepth, cls, emit);
  const { open, close, commas } = layout;
  const envelope = parseJson(`${bytes.toString('utf8', 0, open)}{}${bytes.toString('utf8', close + 1)}`);
  if (!isStruct(envelope) || (envelope.error !== undefined && envelope.error !== null)) return whole(bytes, maxDepth, cls, emit);
  // ref → EMITTED, or why it is refused: a ref given twice keeps its first place and its last record, as in
  // JSON.parse, so a refusal waits until every piece is read (a later record of the same ref replaces it)
  const found = new Map<string, RecordParseError | typeof EMITTED>();
  let refused = 0;
  let emitted = 0;
  const bounds = [open, ...commas, close];
  let from = 0; // index into bounds: the piece starts after bounds[from]
  while (from < bounds.length - 1) {
    let to = from + 1;
    while (to < bounds.length - 1 && bounds[to + 1]! - bounds[from]! <= PIECE_BYTES) to++;
    const text = bytes.toString('utf8', bounds[from]! + 1, bounds[to]);
    // a blank piece between commas is a missing member ({"a":1,} or {,}): JSON.parse would refuse the whole
    if (commas.length > 0 && text.trim() === '') throw new JsonDecodeError(`a member of "result" is missing at byte ${bounds[to]}`);
    const members = parseJson(`{${text}}`) as Record<string, unknown>;
    const piece: Array<[string, RecordOf<C> | null]> = [];
    for (const ref of Object.keys(members)) {
      if (found.get(ref) instanceof RecordParseError) refused--;
      try {
        piece.push([ref, parseRecord(cls, ref, members[ref])]);
        found.set(ref, EMITTED);
      } catch (e) {
        if (!(e instanceof RecordParseError)) throw e;
        found.set(ref, e);
        piece.push([ref, null]);
        refused++;
      }
    }
    if (piece.length > 0) {
      emit(piece);
      emitted += piece.length;
    }
    from = to;
  }
  if (refused > 0) for (const rec of found.values()) if (rec instanceof RecordParseError) throw rec;
  return { envelope, emitted };
}

/** The reply parsed whole: any shape, with the same depth limit and record validation. */
function whole<C extends RecordClass>(bytes: Buffer, maxDepth: number, cls: C, emit: EmitRecords<C>): JsonRecordsReply {
  const envelope = decodeJsonWhole(bytes.toString('utf8'), maxDepth);
  if (!isStruct(envelope) || (envelope.error !== undefined && envelope.error !== null) || !isStruct(envelope.result)) return { envelope, emitted: 0 };
  const records = Object.entries(envelope.result).map(([ref, rec]): [string, RecordOf<C>] => [ref, parseRecord(cls, ref, rec)]);
  envelope.result = {};
  if (records.length > 0) emit(records);
  return { envelope, emitted: records.length };
}

/**
 * One pass over the bytes: throws JsonDecodeError when containers nest deeper than maxDepth; returns where the
 * envelope's one "result" object opens and closes and the commas between its members, or undefined when the reply
 * is not an object with exactly one key "result" (written plainly) whose value is an object.
 */
function scan(b: Buffer, maxDepth: number): { open: number; close: number; commas: number[] } | undefined {
  let depth = 0;
  let open = -1;
  let close = -1;
  let results = 0;
  let plain = true; // no depth-1 key with an escape: "result" could be written otherwise
  let resultKeyEnd = -1; // the byte after the last "result" key seen at depth 1
  const commas: number[] = [];
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) {
      let j = b.indexOf(QUOTE, i + 1);
      while (j > 0 && b[j - 1] === BACKSLASH) {
        let k = j - 1;
        while (b[k] === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break; // an even run of backslashes: this quote ends the string
        j = b.indexOf(QUOTE, j + 1);
      }
      if (j < 0) break; // unterminated: the parse refuses it
      if (depth === 1 && nextNonSpace(b, j + 1) === COLON) {
        // a key of the envelope
        if (b.subarray(i, j).includes(BACKSLASH)) plain = false;
        if (j + 1 - i === RESULT_KEY.length && b.compare(RESULT_KEY, 0, RESULT_KEY.length, i, j + 1) === 0) {
          results++;
          resultKeyEnd = j + 1;
        }
      }
      i = j + 1;
      continue;
    }
    if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > maxDepth) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
      if (depth === 2 && c === OPEN_OBJ && resultKeyEnd >= 0 && open < 0 && isValueOf(b, resultKeyEnd, i)) open = i;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      if (depth === 2 && open >= 0 && close < 0) close = i;
      depth--;
    } else if (c === COMMA && depth === 2 && open >= 0 && close < 0) commas.push(i);
    i++;
  }
  if (results !== 1 || !plain || open < 0 || close < 0 || b[close] !== CLOSE_OBJ) return undefined;
  return { open, close, commas };
}

/** Is b[at] the value right after the key ending at keyEnd (`"result" : {`)? */
function isValueOf(b: Buffer, keyEnd: number, at: number): boolean {
  let i = keyEnd;
  while (i < at && isSpace(b[i]!)) i++;
  if (b[i] !== COLON) return false;
  i++;
  while (i < at && isSpace(b[i]!)) i++;
  return i === at;
}

function nextNonSpace(b: Buffer, from: number): number | undefined {
  let i = from;
  while (i < b.length && isSpace(b[i]!)) i++;
  return b[i];
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

const isStruct = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
