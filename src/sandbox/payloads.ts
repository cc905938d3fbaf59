/**
 * The request bodies Slack sends to an app's request URL, built from what a sandbox user did.
 * Shapes follow bolt-js src/types (command, block_actions, view_submission, view_closed).
 */
import type { SandboxDirectory, SandboxUser } from './directory';

export interface Who {
  user: SandboxUser;
  directory: SandboxDirectory;
}

/** Slash command: form fields, `text` is everything after the command. */
export function slashCommandBody(
  who: Who,
  p: { command: string; text: string; responseUrl: string; triggerId: string },
): string {
  const { user, directory } = who;
  return new URLSearchParams({
    token: 'sandbox-verification-token',
    team_id: directory.teamId,
    team_domain: 'xsupgrade-sandbox',
    channel_id: directory.channel.id,
    channel_name: directory.channel.name,
    user_id: user.id,
    user_name: user.name,
    command: p.command,
    text: p.text,
    api_app_id: 'A0XSUPGRADE',
    is_enterprise_install: 'false',
    response_url: p.responseUrl,
    trigger_id: p.triggerId,
  }).toString();
}

function userObject(who: Who) {
  return { id: who.user.id, username: who.user.name, name: who.user.name, team_id: who.directory.teamId };
}

export interface ClickedMessage {
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  ephemeral: boolean;
}

/** block_actions for a button in a message: one form field `payload` holding the JSON. */
export function blockActionsBody(
  who: Who,
  p: {
    message: ClickedMessage;
    blockId: string;
    element: { action_id: string; value?: string; text?: unknown; style?: string };
    responseUrl: string;
    triggerId: string;
    nowMs: number;
  },
): string {
  const { directory } = who;
  const actionTs = (p.nowMs / 1000).toFixed(6);
  const payload = {
    type: 'block_actions',
    user: userObject(who),
    api_app_id: 'A0XSUPGRADE',
    token: 'sandbox-verification-token',
    container: {
      type: 'message',
      message_ts: p.message.ts,
      channel_id: directory.channel.id,
      is_ephemeral: p.message.ephemeral,
      ...(p.message.thread_ts ? { thread_ts: p.message.thread_ts } : {}),
    },
    trigger_id: p.triggerId,
    team: { id: directory.teamId, domain: 'xsupgrade-sandbox' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: directory.channel.id, name: directory.channel.name },
    // Slack does not include the message for ephemeral sources
    ...(p.message.ephemeral
      ? {}
      : {
          message: {
            type: 'message',
            user: directory.bot.userId,
            bot_id: directory.bot.botId,
            ts: p.message.ts,
            text: p.message.text,
            blocks: p.message.blocks ?? [],
            team: directory.teamId,
            ...(p.message.thread_ts ? { thread_ts: p.message.thread_ts } : {}),
          },
        }),
    state: { values: {} },
    response_url: p.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: p.element.action_id,
        block_id: p.blockId,
        text: p.element.text,
        ...(p.element.value !== undefined ? { value: p.element.value } : {}),
        ...(p.element.style ? { style: p.element.style } : {}),
        action_ts: actionTs,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export type ViewStateValues = Record<string, Record<string, { type: string; value: string | null }>>;

function viewObject(who: Who, viewId: string, view: Record<string, unknown>, values: ViewStateValues, hash: string) {
  return {
    id: viewId,
    team_id: who.directory.teamId,
    type: view.type ?? 'modal',
    title: view.title,
    submit: view.submit,
    close: view.close,
    blocks: view.blocks ?? [],
    private_metadata: view.private_metadata ?? '',
    callback_id: view.callback_id ?? '',
    external_id: view.external_id ?? '',
    state: { values },
    hash,
    clear_on_close: view.clear_on_close ?? false,
    notify_on_close: view.notify_on_close ?? false,
    root_view_id: viewId,
    previous_view_id: null,
    app_id: 'A0XSUPGRADE',
    bot_id: who.directory.bot.botId,
  };
}

export function viewSubmissionBody(
  who: Who,
  p: { viewId: string; view: Record<string, unknown>; values: ViewStateValues; hash: string; triggerId: string },
): string {
  const payload = {
    type: 'view_submission',
    team: { id: who.directory.teamId, domain: 'xsupgrade-sandbox' },
    user: userObject(who),
    api_app_id: 'A0XSUPGRADE',
    token: 'sandbox-verification-token',
    trigger_id: p.triggerId,
    view: viewObject(who, p.viewId, p.view, p.values, p.hash),
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function viewClosedBody(who: Who, p: { viewId: string; view: Record<string, unknown>; values: ViewStateValues; hash: string }): string {
  const payload = {
    type: 'view_closed',
    team: { id: who.directory.teamId, domain: 'xsupgrade-sandbox' },
    user: userObject(who),
    api_app_id: 'A0XSUPGRADE',
    token: 'sandbox-verification-token',
    view: viewObject(who, p.viewId, p.view, p.values, p.hash),
    is_cleared: false,
    is_enterprise_install: false,
    enterprise: null,
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * state.values for a submitted modal from the inputs' current text, keyed block_id → action_id, typed as the
 * element's type (plain_text_input and friends). Inputs left empty are `null` like Slack sends.
 */
export function viewStateValues(view: Record<string, unknown>, typed: Record<string, string>): ViewStateValues {
  const values: ViewStateValues = {};
  const blocks = Array.isArray(view.blocks) ? (view.blocks as Array<Record<string, unknown>>) : [];
  for (const b of blocks) {
    if (b.type !== 'input' || typeof b.block_id !== 'string') continue;
    const el = (b.element ?? {}) as Record<string, unknown>;
    const actionId = typeof el.action_id === 'string' ? el.action_id : 'input';
    const raw = typed[b.block_id] ?? (typeof el.initial_value === 'string' ? el.initial_value : '');
    values[b.block_id] = { [actionId]: { type: String(el.type ?? 'plain_text_input'), value: raw === '' ? null : raw } };
  }
  return values;
}
