/**
 * The Block Kit limits Slack enforces when a message or view is posted (docs.slack.dev/reference/block-kit/blocks,
 * node-slack-sdk types). Slack rejects a violating payload with `invalid_blocks`; the fake does the same, so a
 * message that would fail in a real workspace fails in tests and in the sandbox too.
 */
type Json = Record<string, unknown>;

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  id: 255,
  messageText: 40000,
  /** every text of a message's blocks together: Slack answered msg_blocks_too_long at about 13.2k (bolt-js#2509), below it the fake stays a little under */
  messageBlocksText: 13000,
  viewTitle: 24,
} as const;

function textOf(t: unknown): string | undefined {
  return t && typeof t === 'object' && typeof (t as Json).text === 'string' ? ((t as Json).text as string) : undefined;
}

/** Problems in the form Slack reports them: "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text]". */
export function validateBlocks(blocks: unknown, where: 'message' | 'view'): string[] {
  const errors: string[] = [];
  if (!Array.isArray(blocks)) return [`[ERROR] must be an array [json-pointer:/blocks]`];
  const max = where === 'message' ? LIMITS.messageBlocks : LIMITS.viewBlocks;
  if (blocks.length > max) errors.push(`[ERROR] no more than ${max} items allowed [json-pointer:/blocks]`);
  const blockIds = new Set<string>();
  blocks.forEach((raw, i) => {
    const at = (suffix: string) => `[json-pointer:/blocks/${i}${suffix}]`;
    if (!raw || typeof raw !== 'object') {
      errors.push(`[ERROR] must be an object ${at('')}`);
      return;
    }
    const b = raw as Json;
    if (typeof b.block_id === 'string') {
      if (b.block_id.length > LIMITS.id) errors.push(`[ERROR] must be less than ${LIMITS.id + 1} characters ${at('/block_id')}`);
      if (blockIds.has(b.block_id)) errors.push(`[ERROR] duplicate block_id ${at('/block_id')}`);
      blockIds.add(b.block_id);
    }
    switch (b.type) {
      case 'section': {
        const text = textOf(b.text);
        if (text === undefined && !Array.isArray(b.fields)) errors.push(`[ERROR] must provide text or fields ${at('')}`);
        if (text !== undefined && text.length > LIMITS.sectionText)
          errors.push(`[ERROR] must be less than ${LIMITS.sectionText + 1} characters ${at('/text/text')}`);
        if (text !== undefined && text.length === 0) errors.push(`[ERROR] must be more than 0 characters ${at('/text/text')}`);
        if (Array.isArray(b.fields)) {
          if (b.fields.length > LIMITS.sectionFields) errors.push(`[ERROR] no more than ${LIMITS.sectionFields} items allowed ${at('/fields')}`);
          b.fields.forEach((f, j) => {
            const ft = textOf(f) ?? '';
            if (ft.length > LIMITS.fieldText) errors.push(`[ERROR] must be less than ${LIMITS.fieldText + 1} characters ${at(`/fields/${j}/text`)}`);
          });
        }
        break;
      }
      case 'header': {
        const text = textOf(b.text) ?? '';
        if ((b.text as Json | undefined)?.type !== 'plain_text') errors.push(`[ERROR] must be plain_text ${at('/text/type')}`);
        if (text.length > LIMITS.headerText) errors.push(`[ERROR] must be less than ${LIMITS.headerText + 1} characters ${at('/text/text')}`);
        break;
      }
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0) errors.push(`[ERROR] must provide elements ${at('/elements')}`);
        else if (b.elements.length > LIMITS.contextElements)
          errors.push(`[ERROR] no more than ${LIMITS.contextElements} items allowed ${at('/elements')}`);
        break;
      case 'actions': {
        if (!Array.isArray(b.elements) || b.elements.length === 0) {
          errors.push(`[ERROR] must provide elements ${at('/elements')}`);
          break;
        }
        if (b.elements.length > LIMITS.actionsElements) errors.push(`[ERROR] no more than ${LIMITS.actionsElements} items allowed ${at('/elements')}`);
        const actionIds = new Set<string>();
        b.elements.forEach((e: Json, j: number) => {
          if (typeof e.action_id === 'string') {
            if (actionIds.has(e.action_id)) errors.push(`[ERROR] duplicate action_id ${at(`/elements/${j}/action_id`)}`);
            if (e.action_id.length > LIMITS.id) errors.push(`[ERROR] must be less than ${LIMITS.id + 1} characters ${at(`/elements/${j}/action_id`)}`);
            actionIds.add(e.action_id);
          }
          if (e.type === 'button') {
            const t = textOf(e.text) ?? '';
            if (t.length > LIMITS.buttonText) errors.push(`[ERROR] must be less than ${LIMITS.buttonText + 1} characters ${at(`/elements/${j}/text/text`)}`);
            if (typeof e.value === 'string' && e.value.length > LIMITS.buttonValue)
              errors.push(`[ERROR] must be less than ${LIMITS.buttonValue + 1} characters ${at(`/elements/${j}/value`)}`);
            if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger')
              errors.push(`[ERROR] must be one of primary, danger ${at(`/elements/${j}/style`)}`);
          }
        });
        break;
      }
      case 'divider':
      case 'image':
      case 'rich_text':
      case 'markdown':
        break;
      case 'input':
        if (where === 'message') errors.push(`[ERROR] input blocks are only allowed in views ${at('/type')}`);
        if (!b.label || !b.element) errors.push(`[ERROR] must provide label and element ${at('')}`);
        break;
      default:
        errors.push(`[ERROR] unsupported block type "${String(b.type)}" ${at('/type')}`);
    }
  });
  return errors;
}

export function validateView(view: unknown): string[] {
  if (!view || typeof view !== 'object') return ['[ERROR] must be an object [json-pointer:/view]'];
  const v = view as Json;
  const errors: string[] = [];
  if (v.type !== 'modal' && v.type !== 'home') errors.push('[ERROR] must be modal or home [json-pointer:/view/type]');
  const title = textOf(v.title);
  if (v.type === 'modal' && title === undefined) errors.push('[ERROR] missing required field: title [json-pointer:/view/title]');
  if (title !== undefined && title.length > LIMITS.viewTitle)
    errors.push(`[ERROR] must be less than ${LIMITS.viewTitle + 1} characters [json-pointer:/view/title/text]`);
  errors.push(...validateBlocks(v.blocks, 'view').map((e) => e.replace('[json-pointer:/blocks', '[json-pointer:/view/blocks')));
  return errors;
}
