/**
 * Slack mrkdwn → HTML, as the Slack client renders it: *bold*, _italic_, ~strike~, `code`, ```pre```,
 * > quotes, <@U…> / <!subteam^S…> / <#C…> mentions resolved to names, <url|text> links, <!date…|fallback>,
 * :emoji: shortcodes. Input uses Slack's escaping (&amp; &lt; &gt;); output is safe HTML.
 */

export interface MrkdwnContext {
  userName(id: string): string | undefined;
  groupHandle(id: string): string | undefined;
  channelName(id: string): string | undefined;
  /** mentions of this user are highlighted like Slack does */
  currentUser?: string;
}

/** The shortcodes the bot uses plus common ones; unknown codes stay as text, like a missing custom emoji. */
export const EMOJI: Record<string, string> = {
  clipboard: '📋', no_entry: '⛔', no_entry_sign: '🚫', warning: '⚠️', information_source: 'ℹ️',
  arrows_counterclockwise: '🔄', white_check_mark: '✅', heavy_check_mark: '✔️', ballot_box_with_check: '☑️',
  x: '❌', hourglass: '⌛', hourglass_flowing_sand: '⏳', raised_hand: '✋', rotating_light: '🚨',
  double_vertical_bar: '⏸️', pause_button: '⏸️', black_square_for_stop: '⏹️', octagonal_sign: '🛑', stop_sign: '🛑',
  arrow_forward: '▶️', arrow_right: '➡️', arrow_up: '⬆️', arrows_clockwise: '🔃', repeat: '🔁', leftwards_arrow_with_hook: '↩️',
  rewind: '⏪', fast_forward: '⏩', stopwatch: '⏱️', alarm_clock: '⏰', clock1: '🕐', calendar: '📆', date: '📅', spiral_calendar_pad: '🗓️',
  gear: '⚙️', wrench: '🔧', hammer_and_wrench: '🛠️', computer: '💻', desktop_computer: '🖥️', floppy_disk: '💾', package: '📦',
  rocket: '🚀', tada: '🎉', mag: '🔍', bulb: '💡', lock: '🔒', unlock: '🔓', zap: '⚡', fire: '🔥', construction: '🚧',
  large_green_circle: '🟢', large_yellow_circle: '🟡', red_circle: '🔴', white_circle: '⚪', large_blue_circle: '🔵', black_circle: '⚫',
  green_circle: '🟢', yellow_circle: '🟡', orange_circle: '🟠', heavy_minus_sign: '➖', heavy_plus_sign: '➕',
  point_right: '👉', eyes: '👀', thumbsup: '👍', '+1': '👍', thumbsdown: '👎', wave: '👋', skull: '💀', ghost: '👻',
  electric_plug: '🔌', satellite: '📡', link: '🔗', memo: '📝', pencil: '📝', scroll: '📜', bookmark_tabs: '📑', card_index_dividers: '🗂️',
  file_cabinet: '🗄️', broom: '🧹', recycle: '♻️', wastebasket: '🗑️', sleeping: '😴', zzz: '💤', question: '❓', exclamation: '❗',
  heavy_exclamation_mark: '❗', bangbang: '‼️', new: '🆕', up: '🆙', ok: '🆗', sos: '🆘', twisted_rightwards_arrows: '🔀',
  arrow_down: '⬇️', small_red_triangle_down: '🔻', chart_with_upwards_trend: '📈', bar_chart: '📊', building_construction: '🏗️',
  shield: '🛡️', key: '🔑', bell: '🔔', no_bell: '🔕', mega: '📣', loudspeaker: '📢', speech_balloon: '💬', thread: '🧵',
  hospital: '🏥', ambulance: '🚑', adhesive_bandage: '🩹', checkered_flag: '🏁', triangular_flag_on_post: '🚩', traffic_light: '🚥',
  vertical_traffic_light: '🚦', crossed_fingers: '🤞', pray: '🙏', muscle: '💪', dart: '🎯', label: '🏷️', hash: '#️⃣',
  one: '1️⃣', two: '2️⃣', three: '3️⃣', four: '4️⃣', five: '5️⃣', keycap_ten: '🔟', hourglass_done: '⌛', timer_clock: '⏲️',
};

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Slack's own entity escaping in message text. */
function unescapeSlack(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function emojify(escapedHtml: string): string {
  return escapedHtml.replace(/:([a-z0-9_+-]+):/g, (m, name: string) => {
    const e = EMOJI[name];
    return e ? `<span class="emoji" title=":${name}:">${e}</span>` : m;
  });
}

/** `<…>` tokens: links and mentions. */
function renderAngle(inner: string, ctx: MrkdwnContext): string {
  const [target, label] = splitOnce(inner, '|');
  const mention = (cls: string, text: string) => `<span class="${cls}">${escapeHtml(text)}</span>`;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const name = ctx.userName(id) ?? label ?? id;
    return mention(id === ctx.currentUser ? 'mention mention-me' : 'mention', `@${name}`);
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return mention('mention channel', `#${ctx.channelName(id) ?? label ?? id}`);
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    const handle = ctx.groupHandle(id) ?? label?.replace(/^@/, '') ?? id;
    return mention('mention group', `@${handle}`);
  }
  if (target.startsWith('!date^')) return escapeHtml(unescapeSlack(label ?? target));
  if (target === '!here' || target === '!channel' || target === '!everyone') return mention('mention group', `@${target.slice(1)}`);
  if (/^(https?|mailto|ftp|nfs):/i.test(target)) {
    const href = escapeHtml(unescapeSlack(target));
    const text = label !== undefined ? inline(label, ctx) : href;
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${text}</a>`;
  }
  return escapeHtml(`<${unescapeSlack(inner)}>`);
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

const BOUNDARY_BEFORE = '(^|[\\s(\\[{"\'>/-])';
const BOUNDARY_AFTER = '(?=$|[\\s)\\]}".,!?:;\'<-])';
const STYLES: Array<[RegExp, string]> = [
  [new RegExp(`${BOUNDARY_BEFORE}\\*(?!\\s)([^*\\n]*?[^*\\s])\\*${BOUNDARY_AFTER}`, 'g'), 'b'],
  [new RegExp(`${BOUNDARY_BEFORE}_(?!\\s)([^_\\n]*?[^_\\s])_${BOUNDARY_AFTER}`, 'g'), 'i'],
  [new RegExp(`${BOUNDARY_BEFORE}~(?!\\s)([^~\\n]*?[^~\\s])~${BOUNDARY_AFTER}`, 'g'), 's'],
];

/** Inline formatting of a fragment without code: tokens are swapped for placeholders, then styles applied. */
function inline(text: string, ctx: MrkdwnContext): string {
  const tokens: string[] = [];
  const hold = (html: string) => `\u0000${tokens.push(html) - 1}\u0000`;
  let s = text.replace(/<([^<>\n]+)>/g, (_m, inner: string) => hold(renderAngle(inner, ctx)));
  s = emojify(escapeHtml(unescapeSlack(s)));
  for (const [re, tag] of STYLES) {
    // repeated so that adjacent/nested spans (*a* *b*, *_x_*) all match
    let prev;
    do {
      prev = s;
      s = s.replace(re, (_m, pre: string, body: string) => `${pre}<${tag}>${body}</${tag}>`);
    } while (s !== prev);
  }
  return s.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => tokens[Number(i)]);
}

/** Lines, with `>` quotes grouped. */
function paragraphs(text: string, ctx: MrkdwnContext): string {
  const out: string[] = [];
  let quote: string[] = [];
  const flush = () => {
    if (quote.length) out.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  for (const line of text.split('\n')) {
    const q = /^(?:&gt;|>)\s?(.*)$/.exec(line);
    if (q) {
      quote.push(inline(q[1], ctx));
      continue;
    }
    flush();
    out.push(inline(line, ctx));
  }
  flush();
  return out.join('<br>').replace(/<\/blockquote><br>/g, '</blockquote>').replace(/<br><blockquote>/g, '<blockquote>');
}

export function mrkdwnToHtml(text: string, ctx: MrkdwnContext): string {
  const parts: string[] = [];
  // ```pre``` first, then `code`: nothing inside them is formatted
  const pre = text.split(/```/);
  pre.forEach((seg, i) => {
    if (i % 2 === 1 && i < pre.length - 1) {
      parts.push(`<pre>${escapeHtml(unescapeSlack(seg.replace(/^\n/, '')))}</pre>`);
      return;
    }
    if (i % 2 === 1) seg = '```' + seg; // unbalanced fence: literal
    const code = seg.split(/`/);
    let html = '';
    code.forEach((c, j) => {
      if (j % 2 === 1 && j < code.length - 1 && c.length > 0 && !c.includes('\n')) html += `<code>${escapeHtml(unescapeSlack(c))}</code>`;
      else if (j % 2 === 1) html += '`' + paragraphs(c, ctx) + (j < code.length - 1 ? '`' : '');
      else html += paragraphs(c, ctx);
    });
    parts.push(html);
  });
  return parts.join('');
}

/** plain_text objects: escaped, with emoji when `emoji` is not false. */
export function plainTextToHtml(text: string, emoji = true): string {
  const escaped = escapeHtml(text).replace(/\n/g, '<br>');
  return emoji ? emojify(escaped) : escaped;
}
