import type { Button, ConfirmationDialog, ContextBlock, KnownBlock, SectionBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run } from '../../domain/types';

/** Small Block Kit builders shared by every message. Pure: data in, blocks out. */

export interface SlackMessage {
  /** notification and fallback text: always names the pool and the run id */
  text: string;
  blocks: KnownBlock[];
}

/** Slack's limits (docs.slack.dev/reference/block-kit/blocks). */
export const LIMIT = { blocks: 50, sectionText: 3000, contextText: 2000, buttonText: 75, confirmText: 300, confirmTitle: 100, confirmButton: 30 };

/**
 * Characters of text a message may carry in all: Slack refuses larger ones (msg_blocks_too_long at about 13.2k,
 * bolt-js#2509) even when every block is within its own limit.
 */
export const MAX_CHARS = 12_000;

/** Characters of text a message carries (every `text` in its blocks, plus the fallback text). */
export function messageChars(m: SlackMessage): number {
  return m.text.length + blocksTextLength(m.blocks);
}

/** Characters of text in blocks: every `text` string at any depth (what Slack's msg_blocks_too_long counts, as far as is known). */
export function blocksTextLength(blocks: unknown): number {
  let n = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') n += x.length;
        else walk(x);
      }
    }
  };
  walk(blocks);
  return n;
}

/** Escapes the three characters Slack's mrkdwn treats as control ("<!channel>" stays text). */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack's mention tokens kept by slackText: a user, a user group, a channel, a date (never <!channel>/<!here>). */
const MENTION_TOKEN = /<(?:@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+(?:\|[^<>]*)?|#[CG][A-Z0-9]+(?:\|[^<>]*)?|!date\^[^<>|]+\|[^<>]*)>/g;

/**
 * Text written for people by the core, the runner or the scheduler ("aborted by <@U0MIKA>", "Reminder:
 * <!subteam^S0OPS> …"): escaped like esc(), except the mention tokens above, which Slack renders as names and
 * which notify. Never put such text in a code span: a mention there is shown raw and notifies nobody.
 */
export function slackText(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(MENTION_TOKEN)) {
    out += esc(text.slice(last, m.index)) + m[0];
    last = m.index! + m[0].length;
  }
  return out + esc(text.slice(last));
}

/**
 * `text` within `max` characters: past it, its first max - 1 characters and "…". The cut never falls inside an entity,
 * a `<…>` token or a character of two UTF-16 units (the units splitText never cuts inside): it falls before it, so
 * the text may end a few characters short. Only a token longer than max - 1 is cut inside, as in splitText.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const u of unbreakableUnits(text, max - 1, (t) => t.length)) {
    if (kept.length + u.length > max - 1) break;
    kept += u;
  }
  return `${kept}…`;
}

/** A notification text at most: a readable line (Slack shows a notification's first lines only). */
const NOTIFICATION_TEXT_CHARS = 400;

/**
 * A message's `text` (its notification, and what clients without blocks show), from text already escaped (esc,
 * slackText: a host or VM name such as `web<!channel>` is no Slack token): cut to NOTIFICATION_TEXT_CHARS, never
 * inside an entity or a mention. A text past Slack's 40,000 characters would be refused (msg_too_long).
 */
export function notificationText(escaped: string): string {
  return truncate(escaped, NOTIFICATION_TEXT_CHARS);
}

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;

/** `<@U…>` for Slack user ids; other actors ("cli", "scheduler") as plain words. */
export function who(actor: string): string {
  return SLACK_USER.test(actor) ? `<@${actor}>` : esc(actor);
}

/** Who approves a pool's runs, as mentions (users and user groups). */
export function approversMention(pool: PoolConfig | undefined): string {
  if (!pool) return 'the approvers';
  const users = pool.slack.approvers.users.map((u) => `<@${u}>`);
  const groups = pool.slack.approvers.groups.map((g) => `<!subteam^${g}>`);
  return [...groups, ...users].join(' ') || 'the approvers';
}

/** "02:41" in the pool's timezone, rendered by Slack in each reader's own timezone. */
export function clockTime(ms: number, timezone = 'UTC'): string {
  let fallback: string;
  try {
    fallback = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
  } catch {
    fallback = new Date(ms).toISOString().slice(11, 16);
    timezone = 'UTC';
  }
  return `<!date^${Math.floor(ms / 1000)}^{time}|${fallback} ${timezone}>`;
}

/** "2 h 04 min", "12 min", "40 s". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * What sections() shows of a text that does not fit a message whole: the sections of its long lines (longer than a
 * section) stay within these characters with all the rest (room left for the caller's buttons and context blocks, and
 * for Slack's ~13k characters a message). Within them a text is a few sections, far from Slack's 50 blocks: two
 * sections in a row hold about a section's characters at least.
 */
export const SPLIT_ROOM_CHARS = MAX_CHARS - 2000;

/**
 * One or more section blocks: text longer than Slack's 3000 characters is split on line breaks, and a line longer
 * than a section over several sections (splitText: never inside an entity or a `<…>` token), not cut. A text too large
 * for a message is cut where withinRoom says, and a line says what is not shown.
 */
export function sections(text: string): SectionBlock[] {
  const lines = text.split('\n').map((l) => (l.length <= LIMIT.sectionText ? [l] : splitText(l, LIMIT.sectionText)));
  let texts = packSections(lines);
  if (texts.reduce((n, t) => n + t.length, 0) > SPLIT_ROOM_CHARS) texts = packSections(withinRoom(lines));
  return texts.map((t) => ({ type: 'section', text: { type: 'mrkdwn', text: t } }));
}

/** Lines (each its pieces) as section texts: a line joins the section before it if it fits, its next pieces each start one. */
function packSections(lines: string[][]): string[] {
  const texts: string[] = [];
  let chunk = '';
  for (const [first, ...more] of lines) {
    if (chunk && chunk.length + 1 + first!.length > LIMIT.sectionText) {
      texts.push(chunk);
      chunk = first!;
    } else chunk = chunk ? `${chunk}\n${first}` : first!;
    // the line goes on in the next section (a line break there would put one in the middle of the line)
    for (const piece of more) {
      texts.push(chunk);
      chunk = piece;
    }
  }
  if (chunk) texts.push(chunk);
  return texts;
}

const count = (n: number): string => n.toLocaleString('en-US');
const lineNote = (left: number, some: boolean): string =>
  some ? `_… ${count(left)} more characters of this line not shown (Slack's message size)_` : `_… a line of ${count(left)} characters not shown (Slack's message size)_`;
const linesNote = (left: number): string => `_… ${plural(left, 'more line')} not shown (Slack's message size)_`;

/**
 * What of `lines` (each its pieces) a message can show, with a line saying what is left out. The short lines come first
 * (the headline, what to do, who is asked): all of them up to MAX_CHARS (a status reply or a run's end fits its lines
 * to a message itself), past it the lines that do not fit and all after them are left out. Then, within
 * SPLIT_ROOM_CHARS with the short lines, each long line's first piece, in order, then their next pieces; a long line
 * cut is followed by its note. Lengths are counted with a line break each: never fewer than the sections hold.
 */
function withinRoom(lines: string[][]): string[][] {
  const size = (pieces: string[]): number => pieces.reduce((n, p) => n + p.length, 0);
  // what a line takes at least: a short line all of it, a long one its note
  const least = lines.map((p) => 1 + (p.length > 1 ? lineNote(size(p), true).length : p[0]!.length));
  let used = least.reduce((n, c) => n + c, -1); // no line break before the first line
  let kept = lines.length;
  if (used > MAX_CHARS) {
    used = linesNote(lines.length).length;
    kept = 0;
    while (used + least[kept]! <= MAX_CHARS) used += least[kept++]!;
  }
  let room = SPLIT_ROOM_CHARS - used;
  const shown = lines.slice(0, kept).map((p) => (p.length > 1 ? 0 : 1));
  const take = (i: number): boolean => {
    const piece = lines[i]![shown[i]!]!;
    // a first piece starts a line (its line break), a next one a section
    const cost = piece.length + (shown[i] === 0 ? 1 : 0);
    if (cost > room) return false;
    room -= cost;
    shown[i]!++;
    return true;
  };
  const long = shown.flatMap((n, i) => (n === 0 ? [i] : []));
  for (const i of long) take(i);
  for (const i of long) if (shown[i]) while (shown[i]! < lines[i]!.length && take(i));
  const out = shown.flatMap((n, i) => {
    const pieces = lines[i]!;
    if (n === pieces.length) return [pieces];
    const left = size(pieces.slice(n));
    return n ? [pieces.slice(0, n), [lineNote(left, true)]] : [[lineNote(left, false)]];
  });
  return kept < lines.length ? [...out, [linesNote(lines.length - kept)]] : out;
}

export function section(text: string, blockId?: string): SectionBlock {
  const b: SectionBlock = { type: 'section', text: { type: 'mrkdwn', text: truncate(text, LIMIT.sectionText) } };
  if (blockId) b.block_id = blockId;
  return b;
}

export function context(text: string): ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, LIMIT.contextText) }] };
}

/** The context line every run message carries, so a message read alone still says which run it is. */
export function runContext(run: Run): ContextBlock {
  return context(`*${esc(run.pool)}* · run \`${esc(run.id)}\` · plan \`${esc(run.planHash.slice(0, 12))}\``);
}

export function confirm(opts: { title: string; text: string; confirm: string; deny?: string; danger?: boolean }): ConfirmationDialog {
  const d: ConfirmationDialog = {
    title: { type: 'plain_text', text: truncate(opts.title, LIMIT.confirmTitle) },
    text: { type: 'mrkdwn', text: truncate(opts.text, LIMIT.confirmText) },
    confirm: { type: 'plain_text', text: truncate(opts.confirm, LIMIT.confirmButton) },
    deny: { type: 'plain_text', text: truncate(opts.deny ?? 'Cancel', LIMIT.confirmButton) },
  };
  if (opts.danger) d.style = 'danger';
  return d;
}

export function button(opts: { text: string; actionId: string; value: string; style?: 'primary' | 'danger'; confirm?: ConfirmationDialog }): Button {
  const b: Button = {
    type: 'button',
    action_id: opts.actionId,
    text: { type: 'plain_text', text: truncate(opts.text, LIMIT.buttonText) },
    value: opts.value,
  };
  if (opts.style) b.style = opts.style;
  if (opts.confirm) b.confirm = opts.confirm;
  return b;
}

/** A section's text in packLines: a little under LIMIT.sectionText. */
const PACKED_SECTION_CHARS = 2900;

/**
 * What a piece of Slack text never starts or ends inside: an entity (esc) and a `<…>` token (a mention, a channel, a
 * date, a link: kept by slackText, written by who/clockTime). In escaped mrkdwn "&", "<" and ">" only ever open or
 * close these; a text not yet escaped (replies.ts counts it escaped) has them kept whole too, a mention included.
 */
const UNBREAKABLE = /&(?:amp|lt|gt);|<[^<>\n]*>/g;

/**
 * `text` in pieces of at most `max` characters (each character counted as `charSize` says: escaped, for a text not yet
 * escaped), broken after "; ", ", " or a space where possible: none of it dropped. A piece never ends inside an
 * entity, a `<…>` token or a character of two UTF-16 units; only a token longer than `max` is cut (a piece longer
 * than `max` would be refused by Slack), and a character larger than `max` is a piece alone.
 */
export function splitText(text: string, max: number, charSize: (c: string) => number = (c) => c.length): string[] {
  const size = (t: string): number => {
    let n = 0;
    for (const c of t) n += charSize(c);
    return n;
  };
  if (size(text) <= max) return [text];
  const units = [...unbreakableUnits(text, max, size)];
  const sizes = units.map(size);
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let n = i;
    let len = 0;
    while (n < units.length && len + sizes[n]! <= max) len += sizes[n++]!;
    if (n === units.length) {
      out.push(units.slice(i).join(''));
      return out;
    }
    // at least one unit: a character larger than max is a piece alone
    const cut = breakAt(units, i, Math.max(n, i + 1));
    out.push(units.slice(i, cut).join(''));
    i = cut;
  }
}

/**
 * `text` as the units no piece of it is cut inside (splitText, truncate), in order: characters (code points), and the
 * entities and `<…>` tokens (UNBREAKABLE) of at most `max` by `size`; a longer token is its characters. Lazy: truncate
 * reads only the start of a long text.
 */
function* unbreakableUnits(text: string, max: number, size: (t: string) => number): Generator<string> {
  let last = 0;
  for (const m of text.matchAll(UNBREAKABLE)) {
    yield* text.slice(last, m.index); // a string iterates by code point
    if (size(m[0]) <= max) yield m[0];
    else yield* m[0];
    last = m.index! + m[0].length;
  }
  yield* text.slice(last);
}

/**
 * Where to break units[from..to) that is too long: after its last "; ", else ", ", else space (never one inside a
 * token: a token is one unit), but not before its first unit; else at its end.
 */
function breakAt(units: string[], from: number, to: number): number {
  for (const sep of ['; ', ', ', ' ']) {
    for (let k = to; k - sep.length > from; k--) {
      if ([...sep].every((c, j) => units[k - sep.length + j] === c)) return k;
    }
  }
  return to;
}

/**
 * Lines as thread messages, each within both of Slack's limits (LIMIT.blocks, MAX_CHARS): lines packed into
 * sections, sections into messages, each message headed `title` ("(cont.)" after the first) and its fallback text
 * `fallback (n)`. A line longer than a section is split over several (splitText).
 */
export function packLines(title: string, lines: string[], fallback: string): SlackMessage[] {
  const texts: string[] = [];
  let cur = '';
  // a line longer than a section is split over several, never cut: these lists are what the bot observed
  for (const l of lines.flatMap((line) => splitText(line, PACKED_SECTION_CHARS))) {
    if (cur && cur.length + 1 + l.length > PACKED_SECTION_CHARS) {
      texts.push(cur);
      cur = l;
    } else cur = cur ? `${cur}\n${l}` : l;
  }
  if (cur) texts.push(cur);
  const messages: SlackMessage[] = [];
  let blocks: KnownBlock[] = [];
  let chars = 0;
  const flush = (): void => {
    if (!blocks.length) return;
    const part = messages.length + 1;
    messages.push({ text: `${fallback} (${part})`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${title}*${part > 1 ? ` (cont.)` : ''}` } }, ...blocks] });
    blocks = [];
    chars = 0;
  };
  for (const t of texts) {
    if (blocks.length >= LIMIT.blocks - 2 || chars + t.length > MAX_CHARS - 600) flush();
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: t } });
    chars += t.length;
  }
  flush();
  return messages;
}

/** Keeps a message within Slack's 50 blocks: the last block says what was left out, and where it is when `where` says. */
export function withinBlockLimit(blocks: KnownBlock[], where?: string): KnownBlock[] {
  if (blocks.length <= LIMIT.blocks) return blocks;
  const kept = blocks.slice(0, LIMIT.blocks - 1);
  return [...kept, context(`… ${blocks.length - kept.length} more blocks not shown${where ? ` (${where})` : ''}`)];
}
