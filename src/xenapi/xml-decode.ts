/**
 * An XML-RPC decoder for xapi's dialect on the tokenizer of `htmlparser2` in XML mode (issue 13; its public
 * `Tokenizer` export, a maintained streaming tokenizer that reports positions instead of building strings). It
 * replaced a decoder on `saxes`: on the same text the tokenizer alone takes ~0.6 of saxes' time, and this decoder
 * builds strings only for what it keeps (a skipped record field and every tag name are compared in place, never
 * sliced out). Text is written in chunks as it arrives, so a large reply is decoded
 * piece by piece (wire.ts readXml is the time-sliced form the client uses).
 *
 * The tokenizer is forgiving (it is an HTML tokenizer too); well-formedness is checked here: every close tag must
 * close the element open, the document must end with its root closed, nothing but whitespace outside the root, no
 * stray `<` in text, no `&` that starts no reference, no declaration (`<!DOCTYPE`, `<!ELEMENT`: no entity
 * definitions, so only XML's five named entities and character references are expanded). Attributes, comments and
 * `<?xml …?>` are ignored; so is the text of a record field not kept (only its tags are looked at).
 *
 * Values, as xapi writes them (reference xenapi.md §1.3): an untyped `<value>text</value>` and `<string>` are
 * strings (int64 stays a decimal string, as xapi means it), `<int>`/`<i4>`/`<i8>` and `<double>` numbers,
 * `<boolean>` true/false, `<dateTime.iso8601>` a Date, `<base64>` a Buffer, `<nil/>` null, `<array>` and `<struct>`.
 *
 * Records (issue 13): given `recordFields`, a `{Status, Value}` reply whose Value is a struct of structs (what
 * get_all_records returns, ref → record) keeps only those members of each record; the others are tokenized (so
 * the document must still be well-formed and within the depth limit) but no value is built for them. Given
 * `onRecord` too, each record is handed over as soon as it is read (a decode thread validates and sends it on, so a
 * 3,200-VM reply is never held whole: its thread's collections then copy little).
 *
 * Limits (issue 10.11): the nesting depth of arrays/structs is bounded, and so is the depth of elements (three per
 * array/struct level, plus the envelope), so a deeply nested reply cannot blow the stack or the heap; the byte size
 * is bounded by the caller that counts the bytes it writes.
 */
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { setOwn } from './own-property';

export interface XmlRpcMethodResponse {
  kind: 'response';
  value: unknown;
}
export interface XmlRpcFault {
  kind: 'fault';
  faultCode: unknown;
  faultString: unknown;
}
export interface XmlRpcMethodCall {
  kind: 'call';
  method: string;
  params: unknown[];
}
export type XmlRpcDocument = XmlRpcMethodResponse | XmlRpcFault | XmlRpcMethodCall;

export class XmlRpcDecodeError extends Error {}

type Frame =
  | { kind: 'array'; items: unknown[] }
  | { kind: 'struct'; obj: Record<string, unknown>; name: string | undefined; records?: boolean };

export interface XmlRpcDecoderOptions {
  /** keep only these members of each record of a ref → record reply (get_all_records) */
  recordFields?: ReadonlySet<string>;
  /**
   * Given with recordFields: each record of a reply that has already said `Status: Success` (xapi writes Status
   * first) is handed over here as soon as its `</struct>` is read, and not kept in the document (its Value stays an
   * empty struct). What this throws stops the decoding and is thrown by write() as it is. Without it, or when the
   * Value comes before the Status, the records are kept in the document.
   */
  onRecord?: (ref: string, record: Record<string, unknown>) => void;
}

/** The elements of XML-RPC, by number: tag names are recognised in the text, never sliced out of it. */
const enum Tag {
  Unknown,
  MethodResponse,
  MethodCall,
  MethodName,
  Params,
  Param,
  Fault,
  Value,
  Struct,
  Member,
  Name,
  Array,
  Data,
  // scalar types: String and after
  String,
  Int,
  I4,
  I8,
  Double,
  Boolean,
  DateTime,
  Base64,
  Nil,
}

const TAG_NAMES: ReadonlyArray<readonly [string, Tag]> = [
  ['methodResponse', Tag.MethodResponse],
  ['methodCall', Tag.MethodCall],
  ['methodName', Tag.MethodName],
  ['params', Tag.Params],
  ['param', Tag.Param],
  ['fault', Tag.Fault],
  ['value', Tag.Value],
  ['struct', Tag.Struct],
  ['member', Tag.Member],
  ['name', Tag.Name],
  ['array', Tag.Array],
  ['data', Tag.Data],
  ['string', Tag.String],
  ['int', Tag.Int],
  ['i4', Tag.I4],
  ['i8', Tag.I8],
  ['double', Tag.Double],
  ['boolean', Tag.Boolean],
  ['dateTime.iso8601', Tag.DateTime],
  ['base64', Tag.Base64],
  ['nil', Tag.Nil],
];
const TAG_BY_NAME = new Map(TAG_NAMES);
const NAME_OF: string[] = [];
for (const [name, tag] of TAG_NAMES) NAME_OF[tag] = name;

/** The element named by s[from, from + length), recognised in place (by length and a letter, then compared). */
function tagIn(s: string, from: number, length: number): Tag {
  let tag: Tag;
  switch (length) {
    case 5: {
      const c = s.charCodeAt(from);
      tag = c === 0x76 ? Tag.Value : c === 0x61 ? Tag.Array : c === 0x70 ? Tag.Param : Tag.Fault;
      break;
    }
    case 6: {
      const c = s.charCodeAt(from);
      tag =
        c === 0x6d ? Tag.Member : c === 0x70 ? Tag.Params : c === 0x64 ? Tag.Double : c === 0x62 ? Tag.Base64 : s.charCodeAt(from + 3) === 0x75 ? Tag.Struct : Tag.String;
      break;
    }
    case 4:
      tag = s.charCodeAt(from) === 0x6e ? Tag.Name : Tag.Data;
      break;
    case 3:
      tag = s.charCodeAt(from) === 0x69 ? Tag.Int : Tag.Nil;
      break;
    case 2:
      tag = s.charCodeAt(from + 1) === 0x34 ? Tag.I4 : Tag.I8;
      break;
    case 7:
      tag = Tag.Boolean;
      break;
    case 10:
      tag = s.charCodeAt(from + 6) === 0x4e ? Tag.MethodName : Tag.MethodCall;
      break;
    case 14:
      tag = Tag.MethodResponse;
      break;
    case 16:
      tag = Tag.DateTime;
      break;
    default:
      return Tag.Unknown;
  }
  return s.startsWith(NAME_OF[tag]!, from) ? tag : Tag.Unknown;
}

/**
 * A copy of `s` that does not hold on to the chunk it was sliced from. V8 makes a slice of 13 characters or more
 * a view into its parent string, so every uuid and ref kept from a reply held its 16 KB chunk alive: ~30 MB of a
 * 64-host read's XML text outlived the read inside its snapshot (and was copied by the GC as it aged). Slicing a
 * concatenation slices a fresh flat copy of it instead.
 */
const own = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));

const LT = 0x3c;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Push-style decoder: write() text chunks in order, then end() for the document. Throws XmlRpcDecodeError. */
export class XmlRpcDecoder {
  private readonly tokenizer: Tokenizer;
  /**
   * The tokenizer reports positions in the whole document: the last chunk written (where nearly every token lies)
   * and its offset, the chunks a token in progress may still start in (a tag name, CDATA cut by a chunk's end) and
   * the offset of the first, and the position before which every token has been reported (chunks wholly before it
   * are let go).
   */
  private cur = '';
  private curOffset = 0;
  private held: string[] = [];
  private heldOffset = 0;
  private done = 0;
  /** open elements (well-formedness: each close tag must match) */
  private readonly open: Tag[] = [];
  private readonly maxElements: number;
  private readonly frames: Frame[] = [];
  private text = '';
  /** the scalar type tag inside the current <value>, if any */
  private scalar: Tag = Tag.Unknown;
  /** a <value> is open and has not received a container or scalar yet */
  private inValue = false;
  private root: Tag = Tag.Unknown;
  private rootClosed = false;
  private method: string | undefined;
  private readonly params: unknown[] = [];
  private result: unknown;
  private haveResult = false;
  private error: Error | undefined;
  private isFault = false;
  /** each field kept, to itself: a record's member names are then the caller's strings, not slices of the reply */
  private readonly recordFields: ReadonlyMap<string, string> | undefined;
  /** inside a record member that is not kept: <value>s and containers still open within it */
  private skipping = false;
  private skipValues = 0;
  private skipContainers = 0;
  /** skips the record fields not kept without the tokenizer (given recordFields) */
  private readonly skipper: MemberSkipper | undefined;
  private readonly onRecord: XmlRpcDecoderOptions['onRecord'];
  /** what onRecord threw: write() throws it unchanged */
  private recordError: unknown;
  /** the skipper is at work: text goes to it, not to the tokenizer */
  private fastSkipping = false;
  /** where the tokenizer was paused to start a fast skip (in its positions), or -1 */
  private pausedAt = -1;
  /** where the last close tag ended (its `>`, in the tokenizer's positions) */
  private closedAt = 0;

  constructor(
    private readonly maxDepth: number = 64,
    opts: XmlRpcDecoderOptions = {},
  ) {
    // (a fresh key string costs a string-table lookup at every property store: ~460 ns, a third of building a record)
    this.recordFields = opts.recordFields && new Map([...opts.recordFields].map((f) => [f, f]));
    this.skipper = this.recordFields && new MemberSkipper(this.recordFields.keys(), maxDepth, (name, value) => this.keepField(name, value));
    this.onRecord = this.recordFields && opts.onRecord;
    // methodResponse, params, param, value, then struct/array, member/data, value per level, and a scalar
    this.maxElements = 3 * maxDepth + 6;
    const ignore = (): void => undefined;
    const cbs: TokenizerCallbacks = {
      ontext: (start, end) => this.onText(start, end),
      ontextentity: (codepoint) => {
        if (this.open.length === 0) throw new XmlRpcDecodeError('text outside the root element');
        if (!this.skipping) this.text += String.fromCodePoint(codepoint);
      },
      oncdata: (start, end, endOffset) => {
        if (this.open.length === 0) throw new XmlRpcDecodeError('CDATA outside the root element');
        if (!this.skipping) this.text += this.slice(start, end - endOffset);
      },
      onopentagname: (start, end) => this.openTag(this.tagAt(start, end), start, end),
      onopentagend: ignore,
      onselfclosingtag: (end) => {
        this.closedAt = end;
        this.closeTag(this.open.pop()!);
      },
      onclosetag: (start, end) => {
        this.closedAt = end;
        // well-formed means: it names the element open (compared in place)
        const open = this.open.pop();
        if (open === undefined || !this.names(open, start, end)) {
          const name = this.slice(start, end);
          throw new XmlRpcDecodeError(open === undefined ? `</${name}> closes nothing` : `</${name}> closes <${NAME_OF[open]}>`);
        }
        this.closeTag(open);
      },
      ondeclaration: (start, end) => {
        throw new XmlRpcDecodeError(/^!?doctype/i.test(this.slice(start, end)) ? 'a DOCTYPE is not allowed in XML-RPC' : 'a declaration is not allowed in XML-RPC');
      },
      onprocessinginstruction: ignore,
      oncomment: ignore,
      onattribname: ignore,
      onattribdata: ignore,
      onattribentity: ignore,
      onattribend: ignore,
      onend: ignore,
    };
    this.tokenizer = new Tokenizer({ xmlMode: true, decodeEntities: true }, cbs);
  }

  write(chunk: string): void {
    if (this.error) throw this.error;
    try {
      let text: string | undefined = chunk;
      while (text) {
        if (this.fastSkipping) {
          text = this.skipper!.scan(text);
          if (text === undefined) return;
          this.endFastSkip();
        }
        while (this.held.length > 0 && this.heldOffset + this.held[0]!.length <= this.done) this.heldOffset += this.held.shift()!.length;
        this.curOffset += this.cur.length;
        this.cur = text;
        this.held.push(text);
        this.pausedAt = -1;
        this.tokenizer.write(text);
        if (this.pausedAt < 0) return;
        // paused after the </name> of a field not kept: the rest of this chunk is the field's value (fast skip)
        text = text.slice(this.pausedAt - this.curOffset);
      }
    } catch (e) {
      this.error = e instanceof XmlRpcDecodeError || (e === this.recordError && e instanceof Error) ? e : new XmlRpcDecodeError((e as Error).message);
      throw this.error;
    }
  }

  /**
   * The skipper stopped (see MemberSkipper): the tokenizer starts afresh on the rest of the text, in the state it
   * was left in (between elements), its positions restarting at 0. If the skipper closed the member the tokenizer
   * had opened, that member is closed here; elements the skipper left open (a hand-over within a field not kept)
   * are tokenized in skip mode, as they were before fast skipping.
   */
  private endFastSkip(): void {
    const skipper = this.skipper!;
    this.fastSkipping = false;
    this.tokenizer.reset();
    this.cur = '';
    this.curOffset = 0;
    this.held = [];
    this.heldOffset = 0;
    this.done = 0;
    if (skipper.memberClosed) this.closeTag(this.open.pop()!);
    const open = skipper.memberClosed ? skipper.open ?? [] : skipper.open?.slice(1);
    if (open === undefined || (skipper.memberClosed && open.length === 0)) return;
    this.skipping = true;
    this.skipValues = 0;
    this.skipContainers = 0;
    for (const tag of open) {
      this.open.push(tag);
      if (tag === Tag.Value) this.skipValues++;
      else if (tag === Tag.Struct || tag === Tag.Array) this.skipContainers++;
    }
  }

  end(): XmlRpcDocument {
    if (this.error) throw this.error;
    if (this.fastSkipping) throw new XmlRpcDecodeError('the document ends inside a <member>');
    try {
      this.tokenizer.end();
    } catch (e) {
      throw e instanceof XmlRpcDecodeError ? e : new XmlRpcDecodeError((e as Error).message);
    }
    if (this.open.length > 0) throw new XmlRpcDecodeError(`unclosed <${NAME_OF[this.open[this.open.length - 1]!]}> at the end of the document`);
    if (this.root === Tag.MethodCall) {
      if (!this.method) throw new XmlRpcDecodeError('methodCall without a methodName');
      return { kind: 'call', method: this.method, params: this.params };
    }
    if (this.root !== Tag.MethodResponse) throw new XmlRpcDecodeError('not an XML-RPC document (no <methodResponse> or <methodCall>)');
    if (!this.haveResult) throw new XmlRpcDecodeError('methodResponse without a value');
    if (this.isFault) {
      const f = this.result as { faultCode?: unknown; faultString?: unknown } | null;
      return { kind: 'fault', faultCode: f?.faultCode, faultString: f?.faultString };
    }
    return { kind: 'response', value: this.result };
  }

  /** The text at absolute positions [start, end) of the document. */
  private slice(start: number, end: number): string {
    this.done = end;
    if (start >= this.curOffset) return this.cur.slice(start - this.curOffset, end - this.curOffset);
    let s = '';
    let at = this.heldOffset;
    for (const chunk of this.held) {
      if (end > at && start < at + chunk.length) s += chunk.slice(Math.max(0, start - at), end - at);
      at += chunk.length;
    }
    return s;
  }

  /** The element named at [start, end) of the document, recognised in place. */
  private tagAt(start: number, end: number): Tag {
    const from = start - this.curOffset;
    if (from < 0) return TAG_BY_NAME.get(this.slice(start, end)) ?? Tag.Unknown;
    this.done = end;
    return tagIn(this.cur, from, end - start);
  }

  private onText(start: number, end: number): void {
    if (this.open.length === 0) {
      // outside the root: whitespace only (the tokenizer reports a `<` that starts no tag as text)
      const t = this.slice(start, end);
      for (let i = 0; i < t.length; i++) if (!isSpace(t.charCodeAt(i))) throw new XmlRpcDecodeError('text outside the root element');
      return;
    }
    if (this.firstChar(start) === LT) throw new XmlRpcDecodeError('a "<" that starts no element');
    if (this.skipping) return;
    const text = this.slice(start, end);
    // the tokenizer hands a reference it decoded to ontextentity; a "&" left in the text starts none (XML writes &amp;)
    const amp = text.indexOf('&');
    if (amp >= 0) throw new XmlRpcDecodeError(`a "&" that starts no character or entity reference: ${JSON.stringify(text.slice(amp, amp + 12))}`);
    this.text += text;
  }

  private firstChar(at: number): number {
    this.done = at;
    return at >= this.curOffset ? this.cur.charCodeAt(at - this.curOffset) : this.slice(at, at + 1).charCodeAt(0);
  }

  private openTag(tag: Tag, start: number, end: number): void {
    if (tag === Tag.Unknown) throw new XmlRpcDecodeError(`unknown element <${this.slice(start, end)}>`);
    if (this.open.length === 0 && this.rootClosed) throw new XmlRpcDecodeError(`a second root element <${NAME_OF[tag]}>`);
    if (this.open.length >= this.maxElements) throw new XmlRpcDecodeError(`nested deeper than ${this.maxDepth} levels`);
    this.open.push(tag);
    if (this.skipping) {
      if (tag === Tag.Value) this.skipValues++;
      else if (tag === Tag.Struct || tag === Tag.Array) {
        if (this.frames.length + ++this.skipContainers > this.maxDepth) throw new XmlRpcDecodeError(`nested deeper than ${this.maxDepth} levels`);
      }
      return;
    }
    if (this.root === Tag.Unknown) {
      if (tag !== Tag.MethodResponse && tag !== Tag.MethodCall) throw new XmlRpcDecodeError(`unexpected root element <${NAME_OF[tag]}>`);
      this.root = tag;
      return;
    }
    if (tag === Tag.Value) {
      if (this.inValue) throw new XmlRpcDecodeError('<value> directly inside <value>');
      this.inValue = true;
      this.scalar = Tag.Unknown;
      this.text = '';
      return;
    }
    if (tag === Tag.Struct || tag === Tag.Array) {
      if (!this.inValue || this.scalar !== Tag.Unknown) throw new XmlRpcDecodeError(`<${NAME_OF[tag]}> outside a <value>`);
      if (this.frames.length >= this.maxDepth) throw new XmlRpcDecodeError(`nested deeper than ${this.maxDepth} levels`);
      this.frames.push(tag === Tag.Struct ? { kind: 'struct', obj: {}, name: undefined, records: this.isRecord() } : { kind: 'array', items: [] });
      this.inValue = false;
      return;
    }
    if (tag >= Tag.String) {
      if (!this.inValue || this.scalar !== Tag.Unknown) throw new XmlRpcDecodeError(`<${NAME_OF[tag]}> outside a <value>`);
      this.scalar = tag;
      this.text = '';
      return;
    }
    if (tag === Tag.Fault) this.isFault = true;
    else if (tag === Tag.Name || tag === Tag.MethodName) this.text = '';
    else if (tag === Tag.MethodResponse || tag === Tag.MethodCall) throw new XmlRpcDecodeError(`<${NAME_OF[tag]}> inside the document`);
  }

  /** Is the struct being opened a record of a ref → record reply: {Status, Value: {ref: <this>}}? */
  private isRecord(): boolean {
    if (!this.recordFields || this.frames.length !== 2 || this.root !== Tag.MethodResponse) return false;
    const [envelope, refs] = this.frames;
    return envelope!.kind === 'struct' && envelope!.name === 'Value' && refs!.kind === 'struct';
  }

  /** Is [start, end) the name of `tag`? */
  private names(tag: Tag, start: number, end: number): boolean {
    const name = NAME_OF[tag]!;
    if (end - start !== name.length) return false;
    if (start < this.curOffset) return this.slice(start, end) === name;
    this.done = end;
    return this.cur.startsWith(name, start - this.curOffset);
  }

  /** `tag` (the element open) is closed. */
  private closeTag(tag: Tag): void {
    if (this.open.length === 0) this.rootClosed = true;
    if (this.skipping) {
      if (tag === Tag.Value && --this.skipValues === 0) this.skipping = false;
      else if (tag === Tag.Struct || tag === Tag.Array) this.skipContainers--;
      else if (tag === Tag.Member && this.skipValues === 0) this.skipping = false; // a member without a value
      if (!this.skipping) this.text = '';
      return;
    }
    switch (tag) {
      case Tag.Value: {
        if (this.inValue) this.emit(this.scalar !== Tag.Unknown ? this.scalarValue(this.scalar, this.text) : own(this.text));
        // a container's </value>: the container was emitted at its own close tag
        this.inValue = false;
        this.scalar = Tag.Unknown;
        this.text = '';
        return;
      }
      case Tag.Struct:
      case Tag.Array: {
        const f = this.frames.pop()!;
        // the enclosing <value> now holds this container: its </value> adds nothing
        if (f.kind === 'struct' && f.records && this.onRecord && this.saidSuccess()) this.handOverRecord(f.obj);
        else this.emit(f.kind === 'struct' ? f.obj : f.items);
        return;
      }
      case Tag.Name: {
        const top = this.frames[this.frames.length - 1];
        if (!top || top.kind !== 'struct') throw new XmlRpcDecodeError('<name> outside a <struct>');
        top.name = this.text;
        this.text = '';
        if (top.records) {
          const kept = this.recordFields!.get(top.name);
          if (kept !== undefined) top.name = kept;
          else {
            // most of a record's text is fields not kept (~70% for a VM): they are skipped by MemberSkipper, which
            // looks only at the `<…>` of the text, not at every character as the tokenizer does
            this.skipper!.start(this.maxElements - this.open.length + 1, this.maxDepth - this.frames.length);
            this.fastSkipping = true;
            this.pausedAt = this.closedAt + 1;
            this.tokenizer.pause();
          }
        }
        return;
      }
      case Tag.MethodName:
        this.method = this.text.trim();
        this.text = '';
        return;
      case Tag.Member: {
        const top = this.frames[this.frames.length - 1];
        if (top?.kind === 'struct') top.name = undefined;
        return;
      }
      default:
        return;
    }
  }

  /** Has the envelope of this ref → record reply already said `Status: Success`? */
  private saidSuccess(): boolean {
    const envelope = this.frames[0];
    return envelope?.kind === 'struct' && envelope.obj.Status === 'Success';
  }

  /** A whole record of a successful ref → record reply goes to onRecord instead of into the document. */
  private handOverRecord(record: Record<string, unknown>): void {
    const ref = memberName(this.frames[this.frames.length - 1] as Extract<Frame, { kind: 'struct' }>);
    try {
      this.onRecord!(ref, record);
    } catch (e) {
      this.recordError = e;
      throw e;
    }
  }

  /** A kept field of the record being read, read whole by the skipper (MemberSkipper.plainMember). */
  private keepField(name: string, value: unknown): void {
    (this.frames[this.frames.length - 1] as Extract<Frame, { kind: 'struct' }>).obj[name] = value;
  }

  private emit(v: unknown): void {
    const top = this.frames[this.frames.length - 1];
    if (!top) {
      if (this.root === Tag.MethodCall) this.params.push(v);
      else {
        if (this.haveResult) throw new XmlRpcDecodeError('more than one value in methodResponse');
        this.result = v;
        this.haveResult = true;
      }
      return;
    }
    if (top.kind === 'array') top.items.push(v);
    else setOwn(top.obj, memberName(top), v);
  }

  private scalarValue(type: Tag, text: string): unknown {
    switch (type) {
      case Tag.String:
        return own(text);
      case Tag.Int:
      case Tag.I4:
      case Tag.I8: {
        const t = text.trim();
        if (!/^[-+]?\d+$/.test(t)) throw new XmlRpcDecodeError(`<${NAME_OF[type]}> is not an integer: ${JSON.stringify(t.slice(0, 40))}`);
        return Number(t);
      }
      case Tag.Double: {
        const n = Number(text.trim());
        if (text.trim() === '' || Number.isNaN(n)) throw new XmlRpcDecodeError(`<double> is not a number: ${JSON.stringify(text.slice(0, 40))}`);
        return n;
      }
      case Tag.Boolean: {
        const t = text.trim();
        if (t === '1') return true;
        if (t === '0') return false;
        throw new XmlRpcDecodeError(`<boolean> is not 0 or 1: ${JSON.stringify(t.slice(0, 40))}`);
      }
      case Tag.DateTime:
        return parseDate(text.trim());
      case Tag.Base64:
        return Buffer.from(text, 'base64');
      default:
        return null; // nil
    }
  }
}

const SLASH = 0x2f;

/**
 * Skips the fields of a record that are not kept (most of a record's text: ~70% of a VM's), looking only at the
 * `<…>` in the text (found with indexOf), never at the characters between them as the tokenizer does. It starts
 * after the `</name>` of a field not kept and goes on through the record's next members; a kept field written the
 * way xapi writes those the bot reads (plainValue) it reads and stores itself. It stops at any other kept field or
 * at the `</struct>` that ends the record, and the tokenizer takes over there.
 *
 * What it skips must still be well-formed XML-RPC: known elements, each closed by its own close tag, within the
 * depth limits. Anything it does not read itself (a comment, CDATA, an attribute, a `<` that starts no element, an
 * element out of place, a name with an entity) is handed back to the tokenizer, with the elements open at that
 * point, and judged as it would have been.
 */
/** The name of the member of `struct` whose value is being read; a member must name itself before its value. */
function memberName(struct: Extract<Frame, { kind: 'struct' }>): string {
  if (struct.name === undefined) throw new XmlRpcDecodeError('struct member without a <name>');
  return struct.name;
}

class MemberSkipper {
  /** the first member (whose `<member>` and `<name>` the tokenizer read) has been closed here */
  memberClosed = false;
  /** set when the skipper hands over: the elements open at that point, outermost first (see XmlRpcDecoder.endFastSkip) */
  open: Tag[] | undefined;
  /** elements open within the record, outermost first: starts in the first member */
  private stack: Tag[] = [];
  /** the text of a tag, or of a `<member><name>…</name>` head, cut by the end of a chunk */
  private carry = '';
  private containers = 0;
  /** elements that may still open, counting the first member's, and containers (the depth limits) */
  private elementsLeft = 0;
  private containersLeft = 0;

  /** the kept field names, by length */
  private readonly keptByLength: string[][] = [];

  constructor(
    kept: Iterable<string>,
    private readonly maxDepth: number,
    /** stores a kept field the skipper read whole (plainMember), under the caller's own name string */
    private readonly keep: (name: string, value: unknown) => void,
  ) {
    for (const name of kept) (this.keptByLength[name.length] ??= []).push(name);
  }

  /** Starts skipping after the `</name>` of a field not kept (one skipper per decoder: records have many such fields). */
  start(elementsLeft: number, containersLeft: number): void {
    this.memberClosed = false;
    this.open = undefined;
    this.stack = [Tag.Member];
    this.carry = '';
    this.containers = 0;
    this.elementsLeft = elementsLeft;
    this.containersLeft = containersLeft;
  }

  /** Skips through `text`: undefined when all of it was skipped, else the rest, from where the tokenizer takes over. */
  scan(text: string): string | undefined {
    const s = this.carry === '' ? text : this.carry + text;
    this.carry = '';
    const stack = this.stack;
    let i = 0;
    for (;;) {
      const lt = s.indexOf('<', i);
      if (lt < 0) return undefined;
      if (stack.length === 0) {
        // most members are plain: one scalar or an empty container, written the way xapi writes them
        const end = this.plainMember(s, lt);
        if (end === CUT) {
          this.carry = s.slice(lt);
          return undefined;
        }
        if (end === KEPT) return this.handOver(s, lt);
        if (end !== NOT_PLAIN) {
          i = end;
          continue;
        }
      }
      const gt = s.indexOf('>', lt + 1);
      if (gt < 0) {
        this.carry = s.slice(lt);
        return undefined;
      }
      const closing = s.charCodeAt(lt + 1) === SLASH;
      const selfClosing = !closing && s.charCodeAt(gt - 1) === SLASH;
      const from = closing ? lt + 2 : lt + 1;
      const tag = tagIn(s, from, (selfClosing ? gt - 1 : gt) - from);
      if (stack.length === 0) {
        // between the record's members: a member's head, or the record's end
        if (tag === Tag.Member && !closing && !selfClosing) {
          const head = this.memberHead(s, gt + 1);
          if (head === undefined) {
            this.carry = s.slice(lt);
            return undefined;
          }
          if (head === HANDOVER || this.keptName(s, head.nameAt, head.nameEnd) !== undefined) return this.handOver(s, lt);
          stack.push(Tag.Member);
          i = head.nameEnd + '</name>'.length;
          continue;
        }
        return this.handOver(s, lt); // </struct> (the tokenizer closes the record) or anything out of place
      }
      if (tag === Tag.Unknown) return this.handOver(s, lt);
      if (closing) {
        const top = stack.pop()!;
        if (top !== tag) throw new XmlRpcDecodeError(`</${NAME_OF[tag]}> closes <${NAME_OF[top]}>`);
        if (tag === Tag.Struct || tag === Tag.Array) this.containers--;
        if (stack.length === 0) this.memberClosed = true;
      } else if (!selfClosing) {
        if (stack.length >= this.elementsLeft) throw new XmlRpcDecodeError(`nested deeper than ${this.maxDepth} levels`);
        if ((tag === Tag.Struct || tag === Tag.Array) && ++this.containers > this.containersLeft) throw new XmlRpcDecodeError(`nested deeper than ${this.maxDepth} levels`);
        stack.push(tag);
      }
      i = gt + 1;
    }
  }

  /**
   * After a `<member>` at record level: `<name>field</name>`, with nothing but whitespace before it and a plain name
   * (no `<`, no entity). Where the name is (s[nameAt, nameEnd), its `</name>` at nameEnd); undefined: cut by the
   * chunk's end; HANDOVER: anything else.
   */
  private memberHead(s: string, at: number): { nameAt: number; nameEnd: number } | typeof HANDOVER | undefined {
    const open = s.indexOf('<', at);
    if (open < 0) return undefined;
    if (s.length - open < 6) return undefined;
    if (!s.startsWith('<name>', open) || s.slice(at, open).trim() !== '') return HANDOVER;
    const close = s.indexOf('<', open + 6);
    if (close < 0 || s.length - close < 7) return undefined;
    if (!s.startsWith('</name>', close) || hasAmp(s, open + 6, close)) return HANDOVER;
    return { nameAt: open + 6, nameEnd: close };
  }

  /**
   * At `s[at]`, a whole member written as xapi writes most of them: `<member><name>field</name><value>`, plain
   * content (plainContent), `</value></member>`; a kept field's value (plainValue) is stored on the way. Where it
   * ends; KEPT for a kept field written otherwise (the tokenizer reads it); CUT if the chunk ends within its head;
   * NOT_PLAIN for anything else (read tag by tag).
   */
  private plainMember(s: string, at: number): number {
    if (s.length - at < MEMBER_HEAD.length) return CUT;
    if (!s.startsWith(MEMBER_HEAD, at)) return NOT_PLAIN;
    const nameAt = at + MEMBER_HEAD.length;
    const nameEnd = s.indexOf('<', nameAt);
    if (nameEnd < 0 || s.length - nameEnd < NAME_TO_VALUE.length) return CUT;
    if (!s.startsWith(NAME_TO_VALUE, nameEnd)) return NOT_PLAIN;
    // a name with an entity is compared once decoded, by the tokenizer
    if (hasAmp(s, nameAt, nameEnd)) return NOT_PLAIN;
    const fits = this.containersLeft >= 1 && this.elementsLeft >= 5; // a plain member nests up to 5 elements
    const kept = this.keptName(s, nameAt, nameEnd);
    if (kept !== undefined) {
      // a kept field written as xapi writes those the bot reads is stored here; any other, the tokenizer reads
      const read = fits ? plainValue(s, nameEnd + NAME_TO_VALUE.length) : undefined;
      if (read === undefined || !s.startsWith(MEMBER_TAIL, read.end)) return KEPT;
      this.keep(kept, read.value);
      return read.end + MEMBER_TAIL.length;
    }
    if (!fits) return NOT_PLAIN;
    const end = plainContent(s, nameEnd + NAME_TO_VALUE.length, false);
    return end >= 0 && s.startsWith(MEMBER_TAIL, end) ? end + MEMBER_TAIL.length : NOT_PLAIN;
  }

  /** The kept field named s[from, to), if any. Compared in place: no string is made for the names skipped. */
  private keptName(s: string, from: number, to: number): string | undefined {
    const same = this.keptByLength[to - from];
    if (same === undefined) return undefined;
    for (const name of same) if (s.startsWith(name, from)) return name;
    return undefined;
  }

  private handOver(s: string, at: number): string {
    this.open = this.stack;
    return s.slice(at);
  }
}

const HANDOVER = Symbol('hand over');
const AMP = 0x26; // &

/**
 * The content of a `<value>` starting at `s[at]`, if it is plain: text (no element), a typed scalar, an empty
 * container, or (not `nested`) an array of plain values or a struct of plain members, the way xapi writes a set of
 * refs or a string map. Returns where the `</value>` closing it must start, or -1 for anything else.
 */
function plainContent(s: string, at: number, nested: boolean): number {
  let p = s.indexOf('<', at);
  if (p < 0) return -1;
  if (s.charCodeAt(p + 1) === SLASH) return p; // text; the caller checks that this is </value>
  if (s.startsWith(ARRAY_HEAD, p)) {
    if (nested) return s.startsWith(EMPTY_ARRAY, p) ? p + EMPTY_ARRAY.length : -1;
    p += ARRAY_HEAD.length;
    while (s.startsWith('<value>', p)) {
      const end = plainContent(s, p + 7, true);
      if (end < 0 || !s.startsWith('</value>', end)) return -1;
      p = end + 8;
    }
    return s.startsWith(ARRAY_TAIL, p) ? p + ARRAY_TAIL.length : -1;
  }
  if (s.startsWith('<struct>', p)) {
    if (nested) return s.startsWith(EMPTY_STRUCT, p) ? p + EMPTY_STRUCT.length : -1;
    p += 8;
    while (s.startsWith(MEMBER_HEAD, p)) {
      const nameEnd = s.indexOf('<', p + MEMBER_HEAD.length);
      if (nameEnd < 0 || !s.startsWith(NAME_TO_VALUE, nameEnd)) return -1;
      const end = plainContent(s, nameEnd + NAME_TO_VALUE.length, true);
      if (end < 0 || !s.startsWith(MEMBER_TAIL, end)) return -1;
      p = end + MEMBER_TAIL.length;
    }
    return s.startsWith('</struct>', p) ? p + 9 : -1;
  }
  // a typed scalar: <boolean>1</boolean>, <dateTime.iso8601>…</dateTime.iso8601>, …
  const typed = SCALAR_TAGS[s.charCodeAt(p + 1)]?.find(([open]) => s.startsWith(open, p));
  if (!typed) return -1;
  p = s.indexOf('<', p + typed[0].length);
  return p >= 0 && s.startsWith(typed[1], p) ? p + typed[1].length : -1;
}
/**
 * The value of a kept field written the way xapi writes those the bot reads, from `s[at]` (just after its
 * `<value>`): untyped text, `<boolean>0|1</boolean>`, an array of untyped texts (a set of refs), a struct of
 * untyped texts (a string map); with no `&` anywhere (an entity is the tokenizer's to decode). The value as the
 * tokenizer would have built it, and where its `</value>` must start; undefined for anything else.
 */
function plainValue(s: string, at: number): { value: unknown; end: number } | undefined {
  const lt = s.indexOf('<', at);
  if (lt < 0) return undefined;
  if (s.charCodeAt(lt + 1) === SLASH) return hasAmp(s, at, lt) ? undefined : { value: own(s.slice(at, lt)), end: lt };
  if (lt !== at) return undefined; // text beside an element
  if (s.startsWith('<boolean>', at)) {
    const c = s.charCodeAt(at + 9);
    return (c === 0x30 || c === 0x31) && s.startsWith('</boolean>', at + 10) ? { value: c === 0x31, end: at + 20 } : undefined;
  }
  if (s.startsWith(ARRAY_HEAD, at)) {
    const items: string[] = [];
    let p = at + ARRAY_HEAD.length;
    while (s.startsWith('<value>', p)) {
      const end = s.indexOf('<', p + 7);
      if (end < 0 || !s.startsWith('</value>', end) || hasAmp(s, p + 7, end)) return undefined;
      items.push(own(s.slice(p + 7, end)));
      p = end + 8;
    }
    return s.startsWith(ARRAY_TAIL, p) ? { value: items, end: p + ARRAY_TAIL.length } : undefined;
  }
  if (s.startsWith('<struct>', at)) {
    const map: Record<string, string> = {};
    let p = at + 8;
    while (s.startsWith(MEMBER_HEAD, p)) {
      const nameAt = p + MEMBER_HEAD.length;
      const nameEnd = s.indexOf('<', nameAt);
      if (nameEnd < 0 || !s.startsWith(NAME_TO_VALUE, nameEnd)) return undefined;
      const valueAt = nameEnd + NAME_TO_VALUE.length;
      const valueEnd = s.indexOf('<', valueAt);
      if (valueEnd < 0 || !s.startsWith(MEMBER_TAIL, valueEnd) || hasAmp(s, nameAt, nameEnd) || hasAmp(s, valueAt, valueEnd)) return undefined;
      setOwn(map, s.slice(nameAt, nameEnd), own(s.slice(valueAt, valueEnd)));
      p = valueEnd + MEMBER_TAIL.length;
    }
    return s.startsWith('</struct>', p) ? { value: map, end: p + 9 } : undefined;
  }
  return undefined;
}

/** Is there a `&` in s[from, to) (a name or a value: a few characters)? Looked at in place: an indexOf would read on to the end of the text when there is none. */
function hasAmp(s: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (s.charCodeAt(k) === AMP) return true;
  return false;
}

const MEMBER_HEAD = '<member><name>';
const NAME_TO_VALUE = '</name><value>';
const EMPTY_STRUCT = '<struct></struct>';
const ARRAY_HEAD = '<array><data>';
const ARRAY_TAIL = '</data></array>';
const EMPTY_ARRAY = ARRAY_HEAD + ARRAY_TAIL;
const MEMBER_TAIL = '</value></member>';
/** the typed scalars as xapi writes them, open and close tag, by their first letter (boolean and dateTime are the usual ones) */
const SCALAR_TAGS: Array<Array<readonly [string, string]> | undefined> = [];
for (const t of [Tag.Boolean, Tag.DateTime, Tag.String, Tag.Int, Tag.I4, Tag.I8, Tag.Double]) {
  const name = NAME_OF[t]!;
  (SCALAR_TAGS[name.charCodeAt(0)] ??= []).push([`<${name}>`, `</${name}>`]);
}
/** plainMember's answers that are not an index */
const CUT = -1;
const KEPT = -2;
const NOT_PLAIN = -3;

const DATE = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** xapi writes UTC without dashes (20170407T08:28:32Z); a missing zone is read as UTC too. */
function parseDate(text: string): Date {
  const m = DATE.exec(text);
  if (!m) throw new XmlRpcDecodeError(`<dateTime.iso8601> is not a date: ${JSON.stringify(text.slice(0, 40))}`);
  const [, y, mo, d, h, mi, s, zone] = m;
  const z = !zone || zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${z}`);
  if (Number.isNaN(date.getTime())) throw new XmlRpcDecodeError(`<dateTime.iso8601> is not a date: ${JSON.stringify(text)}`);
  return date;
}

/** Decodes a whole document held in memory (small bodies: task results, the simulator's requests). */
export function decodeXmlRpc(text: string, maxDepth?: number, opts?: XmlRpcDecoderOptions): XmlRpcDocument {
  const d = new XmlRpcDecoder(maxDepth, opts);
  d.write(text);
  return d.end();
}
