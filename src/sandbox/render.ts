/**
 * Block Kit → HTML for the sandbox page, close to what the Slack client shows. Interactive elements carry
 * data-* attributes (block id, action id, confirm dialog) that the page sends back; the server looks the
 * element up again in the stored message, so the page cannot invent a click the bot never offered.
 */
import { escapeHtml, mrkdwnToHtml, MrkdwnContext, plainTextToHtml } from './mrkdwn';

type Json = Record<string, unknown>;

export function textObjectToHtml(t: unknown, ctx: MrkdwnContext): string {
  if (!t || typeof t !== 'object') return '';
  const o = t as Json;
  const text = typeof o.text === 'string' ? o.text : '';
  return o.type === 'mrkdwn' ? mrkdwnToHtml(text, ctx) : plainTextToHtml(text, o.emoji !== false);
}

function attr(v: unknown): string {
  return escapeHtml(typeof v === 'string' ? v : JSON.stringify(v));
}

/** A confirm dialog object, reduced to what the page shows (texts rendered to HTML). */
function confirmAttr(confirm: unknown, ctx: MrkdwnContext): string {
  if (!confirm || typeof confirm !== 'object') return '';
  const c = confirm as Json;
  const dialog = {
    title: textObjectToHtml(c.title, ctx),
    text: textObjectToHtml(c.text, ctx),
    confirm: textObjectToHtml(c.confirm, ctx) || 'Confirm',
    deny: textObjectToHtml(c.deny, ctx) || 'Cancel',
    style: c.style === 'danger' ? 'danger' : 'primary',
  };
  return ` data-confirm="${attr(dialog)}"`;
}

function element(el: Json, blockId: string, ctx: MrkdwnContext): string {
  switch (el.type) {
    case 'button': {
      const style = el.style === 'primary' || el.style === 'danger' ? ` ${el.style}` : '';
      const label = textObjectToHtml(el.text, ctx);
      if (typeof el.url === 'string')
        return `<a class="btn${style}" href="${attr(el.url)}" target="_blank" rel="noopener noreferrer">${label}</a>`;
      return (
        `<button type="button" class="btn${style}" data-block-id="${attr(blockId)}" data-action-id="${attr(el.action_id)}"` +
        `${confirmAttr(el.confirm, ctx)}>${label}</button>`
      );
    }
    case 'image':
      return `<img class="ctx-img" src="${attr(el.image_url)}" alt="${attr(el.alt_text ?? '')}">`;
    case 'mrkdwn':
    case 'plain_text':
      return `<span>${textObjectToHtml(el, ctx)}</span>`;
    case 'static_select':
    case 'overflow':
    case 'users_select':
    case 'datepicker':
      return `<span class="unsupported" title="${attr(el.type)} is shown but not interactive in the sandbox">${textObjectToHtml(el.placeholder, ctx) || escapeHtml(String(el.type))} ▾</span>`;
    default:
      return `<span class="unsupported">[${escapeHtml(String(el.type))}]</span>`;
  }
}

function richTextToPlain(el: unknown): string {
  if (!el || typeof el !== 'object') return '';
  const o = el as Json;
  if (typeof o.text === 'string') return o.text;
  if (Array.isArray(o.elements)) return o.elements.map(richTextToPlain).join('');
  return '';
}

export interface RenderOptions {
  /** input blocks' current errors (view_submission response_action: errors), keyed by block_id */
  errors?: Record<string, string>;
}

export function blockToHtml(block: Json, ctx: MrkdwnContext, opts: RenderOptions = {}): string {
  const blockId = typeof block.block_id === 'string' ? block.block_id : '';
  const data = ` data-block-id="${attr(blockId)}"`;
  switch (block.type) {
    case 'section': {
      const text = block.text ? `<div class="section-text">${textObjectToHtml(block.text, ctx)}</div>` : '';
      const fields = Array.isArray(block.fields)
        ? `<div class="fields">${block.fields.map((f) => `<div class="field">${textObjectToHtml(f, ctx)}</div>`).join('')}</div>`
        : '';
      const acc = block.accessory && typeof block.accessory === 'object' ? `<div class="accessory">${element(block.accessory as Json, blockId, ctx)}</div>` : '';
      return `<div class="block section"${data}><div class="section-main">${text}${fields}</div>${acc}</div>`;
    }
    case 'header':
      return `<div class="block header"${data}>${textObjectToHtml(block.text, ctx)}</div>`;
    case 'divider':
      return `<hr class="block divider"${data}>`;
    case 'context': {
      const els = Array.isArray(block.elements) ? block.elements.map((e) => element(e as Json, blockId, ctx)).join('') : '';
      return `<div class="block context"${data}>${els}</div>`;
    }
    case 'actions': {
      const els = Array.isArray(block.elements) ? block.elements.map((e) => element(e as Json, blockId, ctx)).join('') : '';
      return `<div class="block actions"${data}>${els}</div>`;
    }
    case 'image':
      return `<div class="block image"${data}><img src="${attr(block.image_url)}" alt="${attr(block.alt_text ?? '')}"></div>`;
    case 'markdown':
      return `<div class="block markdown"${data}>${mrkdwnToHtml(String(block.text ?? ''), ctx)}</div>`;
    case 'rich_text':
      return `<div class="block rich-text"${data}>${plainTextToHtml(richTextToPlain(block))}</div>`;
    case 'input': {
      const el = (block.element ?? {}) as Json;
      const label = textObjectToHtml(block.label, ctx);
      const optional = block.optional ? ' <span class="optional">(optional)</span>' : '';
      const placeholder = el.placeholder && typeof el.placeholder === 'object' ? attr((el.placeholder as Json).text ?? '') : '';
      const initial = typeof el.initial_value === 'string' ? el.initial_value : '';
      const name = attr(blockId);
      const control =
        el.type === 'plain_text_input' || el.type === 'email_text_input' || el.type === 'url_text_input' || el.type === 'number_input'
          ? el.multiline
            ? `<textarea name="${name}" placeholder="${placeholder}">${escapeHtml(initial)}</textarea>`
            : `<input type="text" name="${name}" placeholder="${placeholder}" value="${attr(initial)}">`
          : `<span class="unsupported">[${escapeHtml(String(el.type))} input]</span>`;
      const hint = block.hint ? `<div class="hint">${textObjectToHtml(block.hint, ctx)}</div>` : '';
      const err = opts.errors?.[blockId] ? `<div class="input-error">${escapeHtml(opts.errors[blockId])}</div>` : '';
      return `<label class="block input"${data}><div class="input-label">${label}${optional}</div>${control}${err}${hint}</label>`;
    }
    default:
      return `<div class="block unsupported"${data}>[unsupported block ${escapeHtml(String(block.type))}]</div>`;
  }
}

/** A message body: its blocks, or its text when it has none (Slack shows `text` only as the fallback). */
export function messageToHtml(m: { text: string; blocks?: unknown[] }, ctx: MrkdwnContext): string {
  if (m.blocks && m.blocks.length > 0) return m.blocks.map((b) => blockToHtml(b as Json, ctx)).join('');
  return `<div class="block section"><div class="section-text">${mrkdwnToHtml(m.text, ctx)}</div></div>`;
}

export function viewToHtml(view: Json, ctx: MrkdwnContext, opts: RenderOptions = {}): { title: string; body: string; submit?: string; close: string } {
  const blocks = Array.isArray(view.blocks) ? view.blocks : [];
  return {
    title: textObjectToHtml(view.title, ctx),
    body: blocks.map((b) => blockToHtml(b as Json, ctx, opts)).join(''),
    submit: view.submit ? textObjectToHtml(view.submit, ctx) : undefined,
    close: view.close ? textObjectToHtml(view.close, ctx) : 'Cancel',
  };
}

/** Find a button the bot actually offered in these blocks (actions or a section accessory). */
export function findElement(blocks: unknown[] | undefined, blockId: string, actionId: string): Json | undefined {
  for (const b of blocks ?? []) {
    const block = b as Json;
    if (block.block_id !== blockId) continue;
    const candidates = [...(Array.isArray(block.elements) ? (block.elements as Json[]) : []), ...(block.accessory ? [block.accessory as Json] : [])];
    const el = candidates.find((e) => e.action_id === actionId);
    if (el) return el;
  }
  return undefined;
}
