/**
 * A get_all_records reply over JSON-RPC, decoded on a decode thread (decode-worker.ts) from its bytes, its records
 * parsed and validated in pieces of about PIECE_BYTES (issue 13).
 *
 * One JSON.parse of a 64-host VM list builds ~90 fields × 3,200 records; they all live until the last record is
 * validated, so the garbage collector copies and promotes them, and the reply's text is one large string of fresh
 * memory. In pieces, each record's unkept fields die young, and no string is larger than a piece: about half the
 * CPU (measured on the 64-host replies, docs/benchmarks.md §7). And the fields the bot does not read (~70 of a VM's
 * ~90) are dropped from the bytes before any parse, as the XML decoder skips them (xml-decode.ts): JSON.parse
 * then builds a quarter of the objects and the decode threads spend ~15 % less (docs/benchmarks.md §7).
 *
 * The result, the emitted records assigned in turn to one object, is exactly that of decodeJsonWhole +
 * parseAllRecords, or the same kind of error, with one difference: a record's member that is not kept is checked
 * for its shape (a plain key, a colon, one value whose strings close and whose brackets match, within the depth
 * limit) but what is inside its value is not parsed (RecordsCompaction).
 *
 * One pass over the bytes checks the nesting depth of the whole reply (outside strings), drops the members not kept,
 * and finds the envelope's "result" object and the commas between its members; the envelope is parsed with that
 * object left empty, and the members piece by piece, each piece a JSON object of its own (so each is checked as
 * JSON.parse checks the whole). Any reply of another shape (an error, a result that is not an object, a key written
 * with escapes) is parsed whole.
 */
import { JsonDecodeError, decodeJsonWhole, parseJson } from './json-decode';
import { RECORD_CLASSES, RecordParseError, parseRecord, recordFieldsOf, type RecordClass, type RecordOf } from './records';

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
 * and handed to `emit` piece by piece (decode-worker.ts sends them on while the next piece is read). The members
 * not kept are dropped in place: `bytes` is overwritten (the caller's own buffer, read once).
 */
export function decodeJsonRecordsReply<C extends RecordClass>(bytes: Buffer, maxDepth: number, cls: C, emit: EmitRecords<C>): JsonRecordsReply {
  const { length, layout } = scan(bytes, maxDepth, fieldNames.get(cls)!);
  if (!layout) return whole(bytes.subarray(0, length), maxDepth, cls, emit);
  const { open, close, commas } = layout;
  const envelope = parseJson(`${bytes.toString('utf8', 0, open)}{}${bytes.toString('utf8', close + 1, length)}`);
  if (!isStruct(envelope) || (envelope.error !== undefined && envelope.error !== null)) return whole(bytes.subarray(0, length), maxDepth, cls, emit);
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
 * One pass over the bytes that checks them, finds the envelope's parts and drops, in place, what the bot does not
 * read:
 * - throws JsonDecodeError when containers nest deeper than maxDepth, or a bracket closes one of the other kind, or a
 *   record has an empty member (`{,`, `,,`, `,}`: JSON.parse would refuse them too);
 * - drops the members of each record (an object in the "result" object) whose key is not in `fields`, moving the
 *   rest of the bytes down over them (RecordsCompaction);
 * - returns the bytes' new length, and (in them) where the envelope's one "result" object opens and closes and the
 *   commas between its members; no layout when the reply is not an object with exactly one key "result" (written
 *   plainly) whose value is an object.
 * The loop's own state is in locals, the rest in `rec`: a variable a closure shares lives in memory, and the loop
 * over every byte ran three times slower so.
 */
function scan(b: Buffer, maxDepth: number, fields: FieldNames): { length: number; layout?: Layout } {
  const kinds = new Uint8Array(maxDepth + 1); // the bracket open at each depth, to match its close
  const rec = new RecordsCompaction(b, fields);
  let depth = 0;
  let inRecord = false;
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
      if (depth === 1 && b[skipSpace(b, j + 1)] === COLON) {
        // a key of the envelope
        if (b.subarray(i, j).includes(BACKSLASH)) plain = false;
        if (j + 1 - i === RESULT_KEY.length && b.compare(RESULT_KEY, 0, RESULT_KEY.length, i, j + 1) === 0) {
          results++;
          resultKeyEnd = j + 1;
        }
      } else if (inRecord && depth === 3) rec.string(i, j);
      i = j + 1;
      continue;
    }
    if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > maxDepth) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
      kinds[depth] = c;
      if (depth === 2 && c === OPEN_OBJ && resultKeyEnd >= 0 && open < 0 && isValueOf(b, resultKeyEnd, i)) open = rec.at(i);
      else if (depth === 3 && c === OPEN_OBJ && open >= 0 && close < 0) {
        inRecord = true;
        rec.startRecord(i);
      }
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      // { and } are 0x7b and 0x7d, [ and ] 0x5b and 0x5d
      if (depth === 0 || kinds[depth] !== c - 2) throw new JsonDecodeError(`a ${String.fromCharCode(c)} at byte ${i} closes no ${String.fromCharCode(c - 2)}`);
      if (inRecord && depth === 4) rec.closeInValue(i);
      else if (inRecord && depth === 3) {
        rec.endMember(i, false);
        inRecord = false;
      } else if (depth === 2 && open >= 0 && close < 0) close = rec.at(i);
      depth--;
    } else if (c === COMMA) {
      if (inRecord && depth === 3) rec.endMember(i, true);
      else if (depth === 2 && open >= 0 && close < 0) commas.push(rec.at(i));
    }
    i++;
  }
  const length = rec.end();
  if (results !== 1 || !plain || open < 0 || close < 0 || b[close] !== CLOSE_OBJ) return { length };
  return { length, layout: { open, close, commas } };
}

/** A record's member as its key is read: not yet known, kept (JSON.parse reads it), or to be dropped. */
const enum Member {
  Unknown,
  Keep,
  Drop,
}

/**
 * The records' members that are not kept, dropped from the bytes as scan reads them: the bytes after a dropped
 * member are moved down over it, so b[0, written) is done and b[pending, i) is kept but not yet moved.
 *
 * A member is dropped only when it is plainly `"key" : value`: its key written without escapes (an escape could
 * spell a kept name) and not kept, a colon, and one value: a string or a container whose end scan found (its
 * strings closed, its brackets matched, within the depth limit), or one literal. Any other member is kept, and
 * JSON.parse says what is wrong with it. What is inside a dropped string or container is not checked further: it
 * is never parsed, as the XML decoder tokenizes a field it does not keep but never builds it (xml-decode.ts).
 */
class RecordsCompaction {
  private written = 0;
  private pending = 0;
  /** the record's last separator: its { or the last comma */
  private sep = -1;
  private commaSeen = false;
  /** a member of this record was kept */
  private keptBefore = false;
  private member = Member.Unknown;
  /** a member to drop: its value's first byte, and the last one when a string or a container (quote or bracket) */
  private valueStart = -1;
  private valueEnd = -1;
  /** the next backslash at or after the current key, or past the end (2^32 - 1): keys written with escapes */
  private backslash = -1;

  constructor(
    private readonly b: Buffer,
    private readonly fields: FieldNames,
  ) {}

  /** Where byte i (not yet moved) ends up. */
  at(i: number): number {
    return this.written + (i - this.pending);
  }

  startRecord(i: number): void {
    this.sep = i;
    this.commaSeen = false;
    this.keptBefore = false;
    this.member = Member.Unknown;
  }

  /** A string b[i, j] (quotes included) among the record's members: a key, or the value of a member to drop. */
  string(i: number, j: number): void {
    const b = this.b;
    if (this.member === Member.Unknown && firstAfter(b, this.sep, i)) {
      if (this.backslash < i) this.backslash = b.indexOf(BACKSLASH, i) >>> 0; // none: -1 >>> 0
      const colon = skipSpace(b, j + 1);
      const value = skipSpace(b, colon + 1);
      const v = b[value];
      const dropped = this.backslash > j && b[colon] === COLON && v !== undefined && v !== COMMA && v !== CLOSE_OBJ && !this.fields.has(b, i + 1, j);
      this.member = dropped ? Member.Drop : Member.Keep;
      this.valueStart = value;
      this.valueEnd = -1;
    } else if (this.member === Member.Drop && i === this.valueStart) this.valueEnd = j;
  }

  /** A container in a member's value (depth 4) closes at b[i]: the first to close is the value's own. */
  closeInValue(i: number): void {
    if (this.member === Member.Drop && this.valueEnd < 0) this.valueEnd = i;
  }

  /** The member ends at b[end], a comma or the record's }. */
  endMember(end: number, isComma: boolean): void {
    const b = this.b;
    let last = end - 1;
    while (last > this.sep && isSpace(b[last]!)) last--;
    if (last === this.sep) {
      if (isComma || this.commaSeen) throw new JsonDecodeError(`a member of a record is missing at byte ${end}`);
    } else if (this.member === Member.Drop && this.isOneValue(last)) {
      if (this.keptBefore) this.drop(this.sep, end); // ",member", the separator after it stays
      else this.drop(this.sep + 1, isComma ? end + 1 : end); // "member," (or "member" before the record's })
    } else this.keptBefore = true;
    this.sep = end;
    if (isComma) this.commaSeen = true;
    this.member = Member.Unknown;
  }

  /** The new length of the bytes, once scan has read them all. */
  end(): number {
    this.drop(this.b.length, this.b.length);
    return this.written;
  }

  /** b[from, to) goes: what is pending before it is moved down. */
  private drop(from: number, to: number): void {
    if (from > this.pending) {
      const b = this.b;
      if (this.written !== this.pending) {
        // short runs, the most common, byte by byte
        if (from - this.pending > 32) b.copyWithin(this.written, this.pending, from);
        else for (let k = this.pending, w = this.written; k < from; k++, w++) b[w] = b[k]!;
      }
      this.written += from - this.pending;
    }
    this.pending = to;
  }

  /** Is b[valueStart, last] one value? */
  private isOneValue(last: number): boolean {
    const first = this.b[this.valueStart];
    if (first === QUOTE || first === OPEN_OBJ || first === OPEN_ARR) return this.valueEnd === last;
    return isLiteral(this.b, this.valueStart, last + 1);
  }
}

/** Is b[from, to) true, false, null or a JSON number? */
function isLiteral(b: Buffer, from: number, to: number): boolean {
  const first = b[from]!;
  if (first === 0x2d || isDigit(first)) return isNumber(b, from, to);
  const word = first === 0x74 ? TRUE : first === 0x66 ? FALSE : first === 0x6e ? NULL : undefined;
  if (word === undefined || word.length !== to - from) return false;
  for (let k = 1; k < word.length; k++) if (b[from + k] !== word[k]) return false;
  return true;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** JSON's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)? */
function isNumber(b: Buffer, from: number, to: number): boolean {
  let k = from;
  if (b[k] === 0x2d) k++;
  if (b[k] === 0x30) k++;
  else if (isDigit(b[k])) {
    while (k < to && isDigit(b[k])) k++;
  } else return false;
  if (k < to && b[k] === 0x2e) {
    const digits = ++k;
    while (k < to && isDigit(b[k])) k++;
    if (k === digits) return false;
  }
  if (k < to && (b[k] === 0x65 || b[k] === 0x45)) {
    k++;
    if (k < to && (b[k] === 0x2b || b[k] === 0x2d)) k++;
    const digits = k;
    while (k < to && isDigit(b[k])) k++;
    if (k === digits) return false;
  }
  return k === to;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

interface Layout {
  open: number;
  close: number;
  commas: number[];
}

/** Is b[i] the first byte after b[sep] that is not a space? */
function firstAfter(b: Buffer, sep: number, i: number): boolean {
  let k = i - 1;
  while (k > sep && isSpace(b[k]!)) k--;
  return k === sep;
}

/** The first byte at or after `from` that is not a space (b.length if none). */
function skipSpace(b: Buffer, from: number): number {
  let i = from;
  while (i < b.length && isSpace(b[i]!)) i++;
  return i;
}

/** The names of the fields a class's records keep, to compare with a key's bytes where they lie. */
class FieldNames {
  private readonly byLength: Array<Buffer[] | undefined> = [];
  constructor(names: Iterable<string>) {
    for (const name of names) {
      const bytes = Buffer.from(name, 'utf8');
      (this.byLength[bytes.length] ??= []).push(bytes);
    }
  }

  has(b: Buffer, from: number, to: number): boolean {
    for (const name of this.byLength[to - from] ?? []) {
      let k = 0;
      while (k < name.length && name[k] === b[from + k]) k++;
      if (k === name.length) return true;
    }
    return false;
  }
}

const fieldNames = new Map<RecordClass, FieldNames>(RECORD_CLASSES.map((cls) => [cls, new FieldNames(recordFieldsOf(cls))]));

/** Is b[at] the value right after the key ending at keyEnd (`"result" : {`)? */
function isValueOf(b: Buffer, keyEnd: number, at: number): boolean {
  const colon = skipSpace(b, keyEnd);
  return b[colon] === COLON && skipSpace(b, colon + 1) === at;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

const isStruct = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
