/**
 * JSON-RPC reply decoding that never holds the event loop for long (issue 13) and refuses a reply nested deeper
 * than the limit (issue 10.11).
 *
 * JSON.parse is fast (a 64-host VM list, ~7 MB, in 15–30 ms) but it is one uninterruptible block, and it builds
 * whatever depth it is given. Every reply is depth-checked on its text first (a sliced scan, which also notes the
 * top-level separators of the envelope and its members); replies up to WHOLE_PARSE_BYTES are then parsed at once;
 * a larger reply is parsed in pieces: a container larger than PIECE_BYTES is parsed member by member, in batches,
 * with a yield to the event loop whenever a slice of work took longer than SLICE_MS.
 */
import { nextSlice, sliceDue } from '../loop-slice';
import { assignOwn, setOwn } from './own-property';

export class JsonDecodeError extends Error {}

const PIECE_BYTES = 256 * 1024;

const OPEN_OBJ = 0x7b; // {
const CLOSE_OBJ = 0x7d; // }
const OPEN_ARR = 0x5b; // [
const CLOSE_ARR = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/** Time slicing (the process-wide slice of loop-slice.ts): call tick() between units of work. */
class Slicer {
  async tick(): Promise<void> {
    if (sliceDue()) await nextSlice();
  }
}

/**
 * Checks nesting depth over the whole text (outside strings), in time slices, before anything is built. Throws
 * JsonDecodeError naming the limit. Strings are skipped with indexOf (most of a xapi reply is strings: refs, uuids,
 * int64s), so this costs a few ms for a 7 MB reply. An unterminated string ends the scan: JSON.parse refuses it.
 *
 * The same pass notes the top-level commas of the containers that open at depth 1 and 2 (the envelope and its
 * members, e.g. a get_all_records "result"), keyed by the index of their opening bracket: parseContainer splits
 * those without scanning them again (issue 13: the depth check and two comma scans were three passes over ~19 MB).
 */
async function scan(text: string, maxDepth: number, slicer: Slicer): Promise<Map<number, number[]>> {
  const commas = new Map<number, number[]>();
  let d1: number[] = [];
  let d2: number[] = [];
  let depth = 0;
  let i = 0;
  let steps = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = text.indexOf('"', i + 1);
      while (j > 0 && escaped(text, j)) j = text.indexOf('"', j + 1);
      if (j < 0) break;
      i = j + 1;
    } else {
      if (c === COMMA) {
        if (depth === 1) d1.push(i);
        else if (depth === 2) d2.push(i);
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        if (++depth > maxDepth) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
        if (depth === 1) commas.set(i, (d1 = []));
        else if (depth === 2) commas.set(i, (d2 = []));
      } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
      i++;
    }
    if (++steps === 65536) {
      steps = 0;
      await slicer.tick();
    }
  }
  return commas;
}

/** Is the quote at text[j] escaped (preceded by an odd number of backslashes)? */
function escaped(text: string, j: number): boolean {
  let k = j - 1;
  while (k >= 0 && text.charCodeAt(k) === BACKSLASH) k--;
  return (j - 1 - k) % 2 === 1;
}

/** Indexes of the top-level commas of the container text[start..end] (start at its opening bracket). */
function topLevelCommas(text: string, start: number, end: number): number[] {
  const commas: number[] = [];
  let depth = 0;
  for (let i = start; i <= end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = text.indexOf('"', i + 1);
      while (j > 0 && escaped(text, j)) j = text.indexOf('"', j + 1);
      if (j < 0 || j > end) break; // unterminated: the parse of the pieces refuses it
      i = j;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) depth++;
    else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
    else if (c === COMMA && depth === 1) commas.push(i);
  }
  return commas;
}

function skipSpace(text: string, from: number, to: number): number {
  let i = from;
  while (i <= to && /\s/.test(text[i]!)) i++;
  return i <= to ? i : -1;
}

/** In an object member `"key" : value` within text[from..to], the index of the value's first character. */
function valueStart(text: string, from: number, to: number): number {
  let i = skipSpace(text, from, to);
  if (i < 0 || text.charCodeAt(i) !== QUOTE) return -1;
  for (i++; i <= to; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) break;
  }
  i = skipSpace(text, i + 1, to);
  if (i < 0 || text[i] !== ':') return -1;
  return skipSpace(text, i + 1, to);
}

/** JSON.parse, its SyntaxError as a JsonDecodeError. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new JsonDecodeError((e as Error).message);
  }
}

/** Keeps only `fields` of a record (anything else is returned as is: the record schema refuses it). */
function projector(fields: ReadonlySet<string>): (v: unknown) => unknown {
  const list = [...fields];
  return (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const rec = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of list) if (rec[f] !== undefined) out[f] = rec[f];
    return out;
  };
}

/**
 * Parses the container text[start..end] (inclusive brackets). Its members are parsed in batches of about
 * PIECE_BYTES; a single member larger than that is split the same way, one level down. `project`, when given, is
 * applied to each member value as its batch is parsed (the records of a get_all_records reply: the fields not kept
 * die young, so a large reply does not fill the heap with data nobody reads). `recordsKey`: the member of this
 * container that holds such records (the envelope's "result").
 */
async function parseContainer(
  text: string,
  start: number,
  end: number,
  slicer: Slicer,
  scanned: Map<number, number[]>,
  project?: (v: unknown) => unknown,
  records?: { key: string; project: (v: unknown) => unknown },
): Promise<unknown> {
  if (end - start < PIECE_BYTES && !project) return parseJson(text.slice(start, end + 1));
  const isObject = text.charCodeAt(start) === OPEN_OBJ;
  let commas = scanned.get(start);
  if (!commas) {
    commas = topLevelCommas(text, start, end);
    await slicer.tick();
  }
  const bounds = [start, ...commas, end];
  const out: unknown[] | Record<string, unknown> = isObject ? {} : [];
  let batchFrom = 0; // index into bounds of the first member not yet parsed
  const flush = (upTo: number): void => {
    if (upTo <= batchFrom) return;
    const body = text.slice(bounds[batchFrom] + 1, bounds[upTo]);
    const v = parseJson(isObject ? `{${body}}` : `[${body}]`);
    if (project) {
      if (isObject) for (const [k, x] of Object.entries(v as Record<string, unknown>)) setOwn(out as Record<string, unknown>, k, project(x));
      else for (const x of v as unknown[]) (out as unknown[]).push(project(x));
    } else if (isObject) assignOwn(out as Record<string, unknown>, v as Record<string, unknown>);
    else (out as unknown[]).push(...(v as unknown[]));
    batchFrom = upTo;
  };
  for (let k = 0; k < bounds.length - 1; k++) {
    const memberBytes = bounds[k + 1] - bounds[k];
    if (memberBytes >= PIECE_BYTES) {
      flush(k);
      await slicer.tick();
      // one large member: split its value one level down when it is a container (a large string is parsed whole)
      const from = bounds[k] + 1;
      const to = bounds[k + 1] - 1;
      const valueAt = isObject ? valueStart(text, from, to) : skipSpace(text, from, to);
      const vc = text.charCodeAt(valueAt);
      if (valueAt < 0 || (vc !== OPEN_OBJ && vc !== OPEN_ARR)) {
        flush(k + 1);
      } else {
        let vEnd = to;
        while (vEnd > valueAt && /\s/.test(text[vEnd]!)) vEnd--;
        const key = isObject ? (parseJson(text.slice(from, valueAt).trim().replace(/:$/, '')) as string) : undefined;
        const value = project
          ? project(await parseContainer(text, valueAt, vEnd, slicer, scanned))
          : await parseContainer(text, valueAt, vEnd, slicer, scanned, records && key === records.key ? records.project : undefined);
        if (isObject) setOwn(out as Record<string, unknown>, key!, value);
        else (out as unknown[]).push(value);
        batchFrom = k + 1;
      }
    } else if (bounds[k + 1] - bounds[batchFrom] >= PIECE_BYTES) {
      flush(k + 1);
      await slicer.tick();
    }
  }
  flush(bounds.length - 1);
  return out;
}

/**
 * Below this size one JSON.parse is faster than any scan in JavaScript (a 7 MB reply, a 64-host VM list, parses
 * in 15–30 ms here) and its nesting is checked afterwards by a time-sliced walk. Larger texts are checked first
 * and parsed in pieces.
 */
const WHOLE_PARSE_BYTES = 12 * 1024 * 1024;

export interface JsonDecodeOptions {
  /** a get_all_records reply: keep only these fields of each record of the envelope's "result" (see parseContainer) */
  recordFields?: ReadonlySet<string>;
  /** largest text parsed with one JSON.parse (default WHOLE_PARSE_BYTES; with recordFields, PIECE_BYTES) */
  wholeParseBytes?: number;
}

/** Decodes a JSON text with a depth limit, yielding to the event loop between slices of work. */
export async function decodeJson(text: string, maxDepth: number, opts: JsonDecodeOptions = {}): Promise<unknown> {
  const slicer = new Slicer();
  const wholeParseBytes = opts.wholeParseBytes ?? (opts.recordFields ? PIECE_BYTES : WHOLE_PARSE_BYTES);
  const scanned = await scan(text, maxDepth, slicer);
  if (text.length <= wholeParseBytes) {
    try {
      return JSON.parse(text);
    } catch (e) {
      // V8 may run out of stack on absurd nesting: that is a depth refusal too
      if (e instanceof RangeError) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
      throw new JsonDecodeError((e as Error).message);
    }
  }
  const first = text.search(/\S/);
  if (first < 0) throw new JsonDecodeError('empty body');
  const c = text.charCodeAt(first);
  if (c !== OPEN_OBJ && c !== OPEN_ARR) return parseJson(text);
  const last = text.trimEnd().length - 1;
  const records = opts.recordFields && c === OPEN_OBJ ? { key: 'result', project: projector(opts.recordFields) } : undefined;
  return parseContainer(text, first, last, slicer, scanned, undefined, records);
}

/**
 * For a decode thread (decode-worker.ts), where no event loop waits on the work: one JSON.parse of the whole
 * text, then its nesting checked on the value built (about half the cost of decodeJson's scan and pieces). The
 * byte limit bounds what can be built; a value deeper than maxDepth is refused all the same.
 */
export function decodeJsonWhole(text: string, maxDepth: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (e instanceof RangeError) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
    throw new JsonDecodeError((e as Error).message);
  }
  if (!withinDepth(value, 0, maxDepth)) throw new JsonDecodeError(`nested deeper than ${maxDepth} levels`);
  return value;
}

/** Do the containers in `v` (itself at nesting `depth`) nest no deeper than maxDepth? Recursion is bounded by maxDepth. */
function withinDepth(v: unknown, depth: number, maxDepth: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (depth >= maxDepth) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!withinDepth(x, depth + 1, maxDepth)) return false;
  } else {
    for (const k in v) if (!withinDepth((v as Record<string, unknown>)[k], depth + 1, maxDepth)) return false;
  }
  return true;
}
