import type { CoreErrorCode } from '../domain/ports';
import type { StepError, StepKind } from '../domain/types';

/**
 * The one place where XenAPI codes, Core refusals and Slack API failures become sentences an
 * operator can act on. What the operator reads is kept apart from what is logged: callers log the
 * raw detail and show the sentence.
 */

interface Translation {
  /** what happened, in plain words */
  sentence: string;
  /** what to do about it, when there is something to do */
  advice?: string;
  /** the upgrade rule behind it (R1…R6), when one applies */
  rule?: string;
}

/** What the code answered to: the step whose call failed, when known. */
interface ErrorContext {
  step?: StepKind;
}

type Translator = (params: string[], ctx: ErrorContext) => Translation;

/**
 * The rule behind an update's failure depends on the update: the 7.6 update ISO that IS the upgrade of a 7.4/7.5 host
 * (the upgrade step, R1.3), or a hotfix applied after the upgrade (apply-updates / upload-updates, R3.10). Elsewhere
 * no rule is cited rather than a wrong one.
 */
function updateRule(step: StepKind | undefined): string | undefined {
  if (step === 'upgrade') return 'R1.3';
  if (step === 'apply-updates' || step === 'upload-updates') return 'R3.10';
  return undefined;
}

const XENAPI: Record<string, Translator> = {
  HOST_IS_SLAVE: (p) => ({ sentence: `the bot talked to a pool member instead of the master${p[0] ? ` (master is ${p[0]})` : ''}`, advice: 'it reconnects to the master by itself; retry if this persists' }),
  SESSION_AUTHENTICATION_FAILED: () => ({ sentence: 'the pool refused the bot\'s username or password', advice: 'check the pool credentials in the pools file and its password variable' }),
  SESSION_INVALID: () => ({ sentence: 'the bot\'s session with the pool expired', advice: 'retry; the bot logs in again' }),
  HOST_OFFLINE: (p) => ({ sentence: `a host is offline${p[0] ? ` (${p[0]})` : ''}`, advice: 'check the host\'s power and network' }),
  HOST_STILL_BOOTING: () => ({ sentence: 'the host is still booting', advice: 'wait a few minutes, then retry' }),
  CANNOT_CONTACT_HOST: (p) => ({ sentence: `the master cannot reach a host${p[0] ? ` (${p[0]})` : ''}`, advice: 'check the management network' }),
  HOST_NOT_ENOUGH_FREE_MEMORY: () => ({ sentence: 'the destination host has not enough free memory for the VM', advice: 'suspend or shut down VMs that are not needed, then retry', rule: 'R2.2' }),
  VM_REQUIRES_SR: (p) => ({ sentence: `a VM needs a storage repository the destination cannot see${p[1] ? ` (SR ${p[1]})` : ''}`, advice: 'VMs on local storage must be shut down or suspended instead of migrated', rule: 'R2.5' }),
  VM_LACKS_FEATURE: () => ({ sentence: 'a VM without PV drivers can neither be migrated nor suspended', advice: 'shut it down cleanly from inside the guest, then retry', rule: 'R2.5' }),
  VM_MISSING_PV_DRIVERS: () => ({ sentence: 'a VM has no PV drivers, so it cannot be migrated', advice: 'shut it down cleanly, then retry', rule: 'R2.5' }),
  VM_HAS_PCI_ATTACHED: () => ({ sentence: 'a VM with a PCI device attached cannot be migrated', advice: 'shut it down, then retry', rule: 'R2.5' }),
  VM_MIGRATE_FAILED: (p) => ({ sentence: `a live migration failed${p[3] ? `: ${p[3]}` : ''}`, advice: 'retry; if it fails again, shut the VM down or suspend it', rule: 'R3.7' }),
  VM_BAD_POWER_STATE: (p) => ({ sentence: `a VM was not in the expected power state${p[1] && p[2] ? ` (expected ${p[1]}, found ${p[2]})` : ''}`, advice: 'someone may have changed the VM; retry to re-read its state', rule: 'R3.6' }),
  HA_IS_ENABLED: () => ({ sentence: 'high availability is enabled on the pool', advice: 'the bot disables it before the first host; retry', rule: 'R2.4' }),
  HOST_HAS_RESIDENT_VMS: () => ({ sentence: 'the host still has running VMs', advice: 'retry the evacuation before shutting it down', rule: 'R3.1' }),
  HOST_NOT_DISABLED: () => ({ sentence: 'the host must be disabled first', rule: 'R3.3' }),
  HOST_CANNOT_DESTROY_SELF: () => ({ sentence: 'the master cannot forget itself', rule: 'R4.1' }),
  HOST_IS_LIVE: () => ({ sentence: 'the host is still alive, so it cannot be forgotten', advice: 'power it off or reinstall it before forgetting it', rule: 'R4.2' }),
  OTHER_OPERATION_IN_PROGRESS: (p) => ({ sentence: `another operation is running on the same object${p[0] ? ` (${p[0]})` : ''}`, advice: 'wait for it to finish, then retry' }),
  NOT_SUPPORTED_DURING_UPGRADE: () => ({ sentence: 'this operation is not allowed while the pool is in rolling-upgrade mode', rule: 'R3.6' }),
  VDI_IN_USE: () => ({ sentence: 'a virtual disk is in use by another operation', advice: 'wait, then retry', rule: 'R3.6' }),
  SR_BACKEND_FAILURE: (p) => ({ sentence: `the storage backend failed${p[1] ? `: ${p[1]}` : ''}`, advice: 'check the storage repository' }),
  POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION: () => ({ sentence: 'the reinstalled host is not on the pool\'s version', advice: 'install the same version as the upgraded hosts, then Forget & rejoin again', rule: 'R4.2' }),
  POOL_JOINING_HOST_MUST_BE_PHYSICAL: () => ({ sentence: 'only a physical host can join the pool', rule: 'R4.2' }),
  JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS: () => ({ sentence: 'the reinstalled host must not have shared storage attached before it joins', rule: 'R4.2' }),
  UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR: (_p, ctx) => ({ sentence: 'the update\'s precheck failed on the host', rule: updateRule(ctx.step) }),
  UPDATE_ALREADY_APPLIED: (_p, ctx) => ({ sentence: 'the update is already applied on this host', advice: 'retry: the bot will see the host is done', rule: updateRule(ctx.step) }),
  INTERNAL_ERROR: (p) => ({ sentence: `xapi reported an internal error${p[0] ? `: ${p[0]}` : ''}` }),
  // the per-step errors of a real pool (reference xapi-real-behaviour.md, last table)
  VM_SHUTDOWN_TIMEOUT: () => ({ sentence: 'the guest did not finish its clean shutdown in time', advice: 'check the guest (a hung service?) and shut it down from inside, then retry' }),
  VM_FAILED_SHUTDOWN_ACK: () => ({ sentence: 'the guest did not acknowledge the shutdown request', advice: 'check its PV drivers or shut it down from inside, then retry' }),
  VMS_FAILED_TO_COOPERATE: () => ({ sentence: 'the guest did not cooperate with the shutdown', advice: 'shut it down from inside, then retry' }),
  BALLOONING_TIMEOUT_BEFORE_MIGRATION: () => ({ sentence: 'the VM did not give back memory (ballooning) in time for its migration', advice: 'retry; if it fails again, lower its dynamic memory range or shut it down', rule: 'R2.2' }),
  VM_REQUIRES_NETWORK: (p) => ({ sentence: `the destination host has no PIF on a network the VM uses${p[1] ? ` (network ${p[1]})` : ''}`, advice: 'add the VLAN/network to that host, or stop the VM for the upgrade, then retry', rule: 'R3.7' }),
  VM_INCOMPATIBLE_WITH_THIS_HOST: (p) => ({ sentence: `the VM's CPU features are not all offered by the destination host${p[2] ? ` (${p[2]})` : ''}`, advice: 'move it to a host with a compatible CPU, or shut it down and start it on the upgraded host, then retry', rule: 'R3.4' }),
  VM_IS_IMMOBILE: () => ({ sentence: 'the VM is marked immobile (nomigrate or nested virtualisation)', advice: 'shut it down for its host\'s upgrade, then retry', rule: 'R3.7' }),
  VDI_IO_ERROR: () => ({ sentence: 'a disk I/O error stopped the operation (e.g. writing the suspend image)', advice: 'check the storage, then retry' }),
  HOSTS_NOT_COMPATIBLE: () => ({ sentence: 'the reinstalled host is not compatible with the pool (platform version or brand differs)', advice: 'reinstall it with exactly the pool\'s target version, then Forget & rejoin again with its address', rule: 'R4.2' }),
  HOSTS_NOT_HOMOGENEOUS: (p) => ({ sentence: `the reinstalled host differs from the pool${p[0] ? ` (${p[0]})` : ''}`, advice: 'install the same version and updates as the pool, then Forget & rejoin again', rule: 'R4.2' }),
  LICENSE_HOST_POOL_MISMATCH: () => ({ sentence: 'the reinstalled host\'s licence differs from the pool\'s', advice: 'apply the pool\'s licence to it, then Forget & rejoin again', rule: 'R4.2' }),
  JOINING_HOST_SERVICE_FAILED: () => ({ sentence: 'the reinstalled host could not talk to the master\'s services', advice: 'check the network between them, then Forget & rejoin again', rule: 'R4.2' }),
  UPDATE_APPLY_FAILED: (p, ctx) => ({ sentence: `applying the update failed on the host${p[0] ? `: ${p[0].slice(0, 200)}` : ''}`, advice: 'read the host\'s update log, fix the cause, then retry', rule: updateRule(ctx.step) }),
  PATCH_PRECHECK_FAILED_VM_RUNNING: (_p, ctx) => ({ sentence: 'the update\'s precheck refused: VMs run on the host', rule: updateRule(ctx.step) }),
  PATCH_PRECHECK_FAILED_ISO_MOUNTED: (_p, ctx) => ({ sentence: 'the update\'s precheck refused: an ISO is mounted on the host', advice: 'unmount it, then retry', rule: updateRule(ctx.step) }),
  CANNOT_FIND_UPDATE: (_p, ctx) => ({ sentence: 'the update cannot be found on the pool', advice: 'upload it again (xe update-upload), then retry', rule: updateRule(ctx.step) }),
  UNKNOWN_XENAPI_PLUGIN_FUNCTION: (p) => ({ sentence: `the host's upgrade plugin is too old${p[0] ? ` (no ${p[0]})` : ''}`, advice: 'install the RPU hotfix (RPU003 on 7.0, RPU004 on 7.1-7.6) on every host, or use manual mode', rule: 'R3.9' }),
  XENAPI_PLUGIN_FAILURE: (p) => ({ sentence: `the upgrade plugin failed${p[2] ? `: ${p[2]}` : ''}`, advice: p[2] === 'INVALID_URL' ? 'check the repository URL and that it holds a version newer than the host (R3.9)' : 'read /var/log/xensource.log on the host, fix the cause, then retry' }),
  HOST_MASTER_CANNOT_TALK_BACK: () => ({ sentence: 'a member cannot reach its master (emergency mode)', advice: 'expected while the master restarts (R3.8); check the management network if it lasts', rule: 'R3.8' }),
  HOST_UNKNOWN_TO_MASTER: () => ({ sentence: 'a member is unknown to the master it points at (emergency mode)', advice: 'check pool.conf on that member', rule: 'R3.8' }),
  LICENCE_RESTRICTION: () => ({ sentence: 'the pool\'s licence does not allow this operation', advice: 'stop the VMs instead of migrating them, or license the pool' }),
  // the runner's own codes
  PBD_NOT_PLUGGED: () => ({ sentence: 'a storage repository is still detached from the host that came back', advice: 'fix the storage path and plug it (xe pbd-plug), then retry' }),
  CALL_OUTCOME_UNKNOWN: () => ({ sentence: 'a slow call was sent but whether it ran is unknown', advice: 'check what the message says, then Retry to send it again, or Abort' }),
  TASK_DEADLINE: () => ({ sentence: 'an operation is still running past its deadline; it was not sent again', advice: 'Retry follows the same task' }),
  TASK_LOST: () => ({ sentence: 'the pool lost the task of an operation (its master restarted)', advice: 'Retry reads the pool and sends nothing that already took effect' }),
  MESSAGE_METHOD_UNKNOWN: (p) => ({ sentence: `the pool does not know the call ${p[0] ?? ''}`.trim(), advice: 'the host may run an older version than the plan assumed' }),
};

/** The bot's own codes (src/runner/errors.ts BOT_CONCLUSION_CODES): what it concluded, worded as its conclusion. */
const CONCLUDED: Record<string, string> = {
  HOST_WAIT_TIMEOUT: 'the bot concluded the host did not come back in time: it was not live on the target when the wait ended',
  UPGRADE_NOT_APPLIED: 'the bot concluded the upgrade did not apply: the host restarted but reports its old version',
  CONNECTION: 'the bot could not reach the pool: no answer at all, so nothing is known of what the pool would have said',
  NO_PLACEMENT: 'the bot concluded no host can receive these VMs now (R2.2, R2.5, R3.4)',
  SHUTDOWN_UNKNOWN: 'the bot cannot tell whether its shutdown request reached the host, so it does not send it again',
  SHUTDOWN_IN_PROGRESS: "the host still shows the bot's shutdown in progress (its storage may not unplug), so it is not sent again",
  UNPLANNED_VERSION: "the host came back upgraded, but not to the plan's target: not the upgrade that was approved",
  ADDRESS_IN_USE: 'the bot found that address used by another member of the pool',
  AWAITING_ADDRESS: "the bot is waiting for the reinstalled host's address",
};

/** A XenAPI error code (and params) as one operator sentence, with advice and the rule when known. */
export function describeXenApiError(code: string, params: string[] = [], ctx: ErrorContext = {}): string {
  const translate = Object.prototype.hasOwnProperty.call(XENAPI, code)
    ? XENAPI[code]
    : code.startsWith('SR_BACKEND_FAILURE')
      ? XENAPI.SR_BACKEND_FAILURE
      : code.startsWith('UPDATE_PRECHECK_FAILED_')
        ? (p: string[], ctx: ErrorContext) => ({ sentence: `the update's precheck failed on the host (${code.slice('UPDATE_PRECHECK_FAILED_'.length).toLowerCase().replace(/_/g, ' ')}${p[0] ? `: ${p.slice(0, 3).join(', ')}` : ''})`, advice: 'fix the cause on the host, then retry', rule: updateRule(ctx.step) })
        : undefined;
  if (!translate) return `the pool answered ${code}${params.length ? ` (${params.slice(0, 3).join(', ')})` : ''}`;
  const t = translate(params, ctx);
  return [t.sentence, t.advice ? ` — ${t.advice}` : '', t.rule ? ` (${t.rule})` : ''].join('');
}

/** A failed step's error for the failure alert: the runner's words, then the code translated (for `step`'s kind). */
export function describeStepError(error: StepError | undefined, step?: StepKind): { summary: string; code?: string; explanation?: string } {
  if (!error) return { summary: 'the step failed without an error message' };
  if (!error.code) return { summary: error.message };
  // what the bot inferred is never worded as the pool's answer (issue 11.9); older records lack `concluded`
  if (error.concluded ?? error.code in CONCLUDED) {
    return { summary: error.message, code: error.code, explanation: CONCLUDED[error.code] ?? 'the bot concluded this from what it observed' };
  }
  return { summary: error.message, code: error.code, explanation: describeXenApiError(error.code, error.params ?? [], { step }) };
}

const REFUSAL: Record<CoreErrorCode, string> = {
  'not-found': 'Not found',
  forbidden: 'Not allowed',
  // the error says why: a stale click, a run already active, a pool changed since its plan…
  conflict: 'Nothing done',
  invalid: 'Invalid request',
  blocked: 'Blocked by the plan',
  unavailable: 'The pool cannot be reached',
  'store-unavailable': "The bot's store cannot be reached",
};

/** Core's refusal as the ephemeral sentence the clicking user reads. */
export function describeRefusal(code: CoreErrorCode, error: string): string {
  return `${REFUSAL[code] ?? 'Refused'}: ${error}`;
}

/** Slack Web API errors that retrying will not fix until a person acts. */
const SLACK_PERMANENT = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'no_text',
  'invalid_arguments',
  'message_not_found',
  'cant_update_message',
  'thread_not_found',
  'user_not_in_channel',
]);

/** Slack API errors whose message content is the problem (retrying the same payload cannot help). */
const SLACK_BAD_CONTENT = new Set(['invalid_blocks', 'invalid_blocks_format', 'msg_too_long', 'msg_blocks_too_long', 'no_text', 'invalid_arguments']);

export type SlackFailure =
  | { kind: 'rate-limited'; retryAfterMs: number }
  | { kind: 'transient'; reason: string }
  | { kind: 'bad-content'; reason: string }
  | { kind: 'permanent'; reason: string; hint: string };

const SLACK_HINT: Record<string, string> = {
  not_in_channel: 'invite the bot to the channel (/invite @xsupgrade) or add the chat:write.public scope',
  channel_not_found: 'check slack.channel in the pools file (use the channel id, like C0123ABCD)',
  invalid_auth: 'check SLACK_BOT_TOKEN',
  not_authed: 'check SLACK_BOT_TOKEN',
  token_revoked: 'reinstall the app and update SLACK_BOT_TOKEN',
  missing_scope: 'add the missing scope in the app manifest and reinstall',
  is_archived: 'unarchive the channel or point the pool at another one',
};

/** Classifies a failed Web API call (WebClient v8 errors, with retries and rate-limit retries turned off). */
export function classifySlackError(err: unknown): SlackFailure {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  if (e?.code === 'slack_webapi_rate_limited_error') return { kind: 'rate-limited', retryAfterMs: Math.max(1, e.retryAfter ?? 1) * 1000 };
  if (e?.code === 'slack_webapi_platform_error') {
    const reason = e.data?.error ?? 'unknown_error';
    if (reason === 'ratelimited') return { kind: 'rate-limited', retryAfterMs: 1000 };
    if (SLACK_BAD_CONTENT.has(reason)) return { kind: 'bad-content', reason };
    if (SLACK_PERMANENT.has(reason)) return { kind: 'permanent', reason, hint: SLACK_HINT[reason] ?? 'see the bot log' };
    return { kind: 'transient', reason };
  }
  if (e?.code === 'slack_webapi_http_error') return { kind: 'transient', reason: `HTTP ${e.statusCode ?? '?'}` };
  // request errors (connection refused, reset, timeout) and anything unexpected: try again later
  return { kind: 'transient', reason: e?.code ?? e?.message ?? 'unknown error' };
}

/** What a user reads when a handler failed unexpectedly (the detail is in the log, not in Slack). */
export const INTERNAL_ERROR_TEXT =
  ':warning: Something went wrong while handling that. Nothing was changed by this request; the details are in the bot\'s log. Try again, or use `/xsupgrade status`.';

/** What a user reads after clicking a button whose value this bot did not produce. */
export const INVALID_BUTTON_TEXT = ':no_entry: This button is not valid (it was changed or is from another app). Nothing was done; the attempt was recorded.';
