import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Logger } from '../log';
import type { Notifier } from '../domain/ports';
import type { Plan, RecoveryAction, Run, SlackRefs, StepRecord } from '../domain/types';
import { approvalDecidedMessage, approvalMessage } from './blocks/approval';
import type { SlackMessage } from './blocks/common';
import { failureMessage } from './blocks/failure';
import { runEndMessages } from './blocks/run-end';
import { runEventMessage, runHeaderMessage } from './blocks/run-header';
import { esc, sections, slackText } from './blocks/common';
import type { OutboxRecord, OutboxRef } from '../store/types';
import { Outbox, PersistedRequest, SlackRequest, StoredRevision, withoutBlocks } from './outbox';
import { PRIORITY } from './outbox-order';
import { PlanMessages } from './plan-messages';
import { planBlocks } from './blocks/plan';
import { toolsChecklistMessage } from './blocks/tools';

/**
 * The Slack Notifier (ports.ts). Every method queues its message in the outbox and returns at once;
 * delivery is asynchronous and ordered per channel. The message refs (header ts, approval and alert
 * ts) are kept here and handed to `saveSlackRefs` so Core can store them in the run, and are read
 * back from `run.slack` after a restart.
 *
 * Each message also says how it is stored for a restart (`persist`): a ts not known yet when it is
 * queued (the header of a run whose header post is still waiting) is stored as a ref, resolved when the
 * message is finally sent (`resolveRef`); a header or approval posted from the store is learnt back
 * (`learnRef`) so this process updates it instead of posting a second one.
 */
export interface SlackNotifierDeps {
  outbox: Outbox;
  pools: PoolConfig[];
  clock: Clock;
  logger: Logger;
  /** persist the run's Slack refs (Core/store owns the Run); failures are logged, never thrown */
  saveSlackRefs?: (runId: string, refs: SlackRefs) => Promise<void>;
  /** the refs stored in the run (after a restart, for messages stored by the previous process) */
  loadSlackRefs?: (runId: string) => Promise<SlackRefs | undefined>;
  /**
   * the run as stored now (Core/store owns it): a header refresh left stored by an earlier process or a stopped
   * replica, for a run this process has not seen since, is checked against it (reviseStoredHeader)
   */
  loadRun?: (runId: string) => Promise<Run | undefined>;
  /** the app runs the R5.1 Tools follow-up (it was given one): the run's end may say its checklist follows */
  toolsFollowUp?: boolean;
}

const headerRef = (runId: string): OutboxRef => ({ runId });
/** outbox coalesceKey of a run's header refreshes (one waiting per run, the newest) */
const HEADER_KEY = 'header:';
/** SlackRefs.messages key of a run's Tools checklist (R5.1) */
export const TOOLS_KEY = 'tools';

/**
 * Outbox ordering of a run's messages (issue 10 point 10): one group per run, so its thread keeps its order; the
 * header, approval requests and failure alerts are alerts; the requester is told if Slack refuses them for good
 * (only a Slack user id can be told: a CLI requester is not).
 */
const runMessage = (run: Run, priority: number) => ({
  priority,
  group: run.id,
  requester: /^[UW][A-Z0-9]{2,}$/.test(run.requestedBy) ? run.requestedBy : undefined,
});

export class SlackNotifier implements Notifier {
  private readonly refs = new Map<string, SlackRefs>();
  /** the newest run (highest revision) given per run id: header refreshes are built from it */
  private readonly latest = new Map<string, Run>();
  private readonly headerQueued = new Set<string>();
  /** the run revision the header currently shows, to skip refreshes that change nothing */
  private readonly headerRevision = new Map<string, number>();
  private readonly log: Logger;
  /** plan messages per pool: their Start buttons are withdrawn once a run starts (issue 10.6) */
  readonly planMessages = new PlanMessages();

  constructor(private readonly deps: SlackNotifierDeps) {
    this.log = deps.logger.child({ component: 'slack-notifier' });
    deps.outbox.reviseStored((record) => this.reviseStoredHeader(record));
  }

  /**
   * A header refresh stored by an earlier process or a stopped replica (restored, or adopted: issue 16) holds the
   * header as it was when it was queued. Sent after the run moved on, it would put the header back (a host "in
   * progress" again after it was upgraded, a run "running" again after it ended): dropped when the header shows its
   * revision or a newer one, rebuilt from the newest run when that is newer. A run this process has not seen since
   * (after a restart or an adoption) is read from the store (`loadRun`); when it cannot be read, or holds nothing
   * newer, the refresh goes as stored (a message is never dropped because the store is down).
   */
  private async reviseStoredHeader(record: OutboxRecord): Promise<StoredRevision> {
    if (!record.coalesceKey?.startsWith(HEADER_KEY) || record.revision === undefined) return 'stored';
    const runId = record.coalesceKey.slice(HEADER_KEY.length);
    const revision = record.revision;
    const showsNewer = () => (this.headerRevision.get(runId) ?? -Infinity) >= revision;
    if (showsNewer()) return 'skip';
    if ((this.latest.get(runId)?.revision ?? -Infinity) <= revision) {
      const stored = await this.storedRun(runId, record);
      if (stored) this.remember(stored);
      if (showsNewer()) return 'skip'; // shown by this process while the store was read
    }
    const current = this.latest.get(runId);
    if (!current || current.revision <= revision) return 'stored';
    // the header's ts: known here, else as the run stores it, else the one the stored refresh names
    const refs = this.refs.get(runId);
    const args = record.request.args;
    const target = refs?.headerTs
      ? { channel: refs.channel, ts: refs.headerTs }
      : current.slack?.headerTs
        ? { channel: current.slack.channel, ts: current.slack.headerTs }
        : typeof args.ts === 'string' && typeof args.channel === 'string'
          ? { channel: args.channel, ts: args.ts }
          : undefined;
    if (!target) return 'stored';
    this.headerRevision.set(runId, current.revision);
    return this.headerUpdate(current, target.channel, target.ts);
  }

  /** The run as stored now (reviseStoredHeader); undefined when there is no loadRun or the store cannot be read. */
  private async storedRun(runId: string, record: OutboxRecord): Promise<Run | undefined> {
    if (!this.deps.loadRun) return undefined;
    try {
      return await this.deps.loadRun(runId);
    } catch (e) {
      this.log.warn({ runId, job: record.describe, revision: record.revision, err: (e as Error).message }, 'could not read the run from the store to check a stored header refresh; it is sent as stored');
      return undefined;
    }
  }

  /** chat.update of a run's header, showing `run` (its revision kept with the stored entry) */
  private headerUpdate(run: Run, channel: string, ts: string): SlackRequest {
    const msg = runHeaderMessage(run, this.pool(run.pool));
    return { method: 'chat.update', args: { channel, ts, text: msg.text, blocks: msg.blocks }, revision: run.revision };
  }

  /**
   * Keeps the run as the newest known unless a higher revision is already known. Notifications may arrive out of
   * order (a loop's older snapshot in a runEvent, a replayed or retried notification): an older run must never
   * replace a newer one, or the header would go back to a state the run has left. An equal revision replaces.
   */
  private remember(run: Run): void {
    const known = this.latest.get(run.id);
    if (known && run.revision < known.revision) return;
    this.latest.set(run.id, run);
  }

  private pool(name: string): PoolConfig | undefined {
    return this.deps.pools.find((p) => p.name === name);
  }

  /** Where a run's messages go: the channel its header was posted in, else the pool's channel. */
  private refsOf(run: Run): SlackRefs | undefined {
    let refs = this.refs.get(run.id);
    if (!refs) {
      const channel = run.slack?.channel ?? this.pool(run.pool)?.slack.channel;
      if (!channel) {
        this.log.error({ runId: run.id, pool: run.pool }, 'no Slack channel configured for this pool; run messages cannot be posted');
        return undefined;
      }
      refs = { channel, headerTs: run.slack?.headerTs, messages: { ...(run.slack?.messages ?? {}) } };
      this.refs.set(run.id, refs);
    } else if (run.slack) {
      // refs learnt from stored messages first, then the run arrived: keep both
      refs.headerTs ??= run.slack.headerTs;
      refs.messages = { ...(run.slack.messages ?? {}), ...(refs.messages ?? {}) };
    }
    return refs;
  }

  private static pick(refs: SlackRefs | undefined, ref: OutboxRef): { ts: string; channel: string } | undefined {
    const ts = ref.key === undefined ? refs?.headerTs : refs?.messages?.[ref.key];
    return refs && ts ? { ts, channel: refs.channel } : undefined;
  }

  /** The ts (and channel) of a run's header or keyed message, for a stored message sent after a restart. */
  async resolveRef(ref: OutboxRef): Promise<{ ts: string; channel: string } | undefined> {
    const known = SlackNotifier.pick(this.refs.get(ref.runId), ref);
    if (known || !this.deps.loadSlackRefs) return known;
    return SlackNotifier.pick(await this.deps.loadSlackRefs(ref.runId), ref);
  }

  /** A stored header or approval message was posted (after a restart): remember and save its ts. */
  async learnRef(ref: OutboxRef, ts: string, channel: string | undefined): Promise<void> {
    let refs = this.refs.get(ref.runId);
    if (!refs) {
      const saved = this.deps.loadSlackRefs ? await this.deps.loadSlackRefs(ref.runId).catch(() => undefined) : undefined;
      refs = this.refs.get(ref.runId); // the run may have arrived meanwhile
      if (!refs) {
        const base = channel ?? saved?.channel;
        if (!base) return;
        refs = { channel: base, headerTs: saved?.headerTs, messages: { ...(saved?.messages ?? {}) } };
        this.refs.set(ref.runId, refs);
      }
    }
    if (channel) refs.channel = channel;
    if (ref.key === undefined) refs.headerTs = ts;
    else refs.messages = { ...(refs.messages ?? {}), [ref.key]: ts };
    this.save(ref.runId);
  }

  /** The stored form of a thread reply: its thread is the header, known now or resolved when sent. */
  private persistedPost(run: Run, refs: SlackRefs, msg: SlackMessage, broadcast = false): PersistedRequest {
    if (refs.headerTs) return this.post(refs, msg, refs.headerTs, broadcast);
    const req: PersistedRequest = this.post(refs, msg, undefined, false);
    if (broadcast) req.args.reply_broadcast = true;
    return { ...req, refArgs: { thread_ts: headerRef(run.id) } };
  }

  /** The stored form of an update of a run's message (header or keyed): its ts known now or resolved when sent. */
  private persistedUpdate(runId: string, refs: SlackRefs, ts: string | undefined, msg: SlackMessage, key?: string): PersistedRequest {
    const args = { channel: refs.channel, ts, text: msg.text, blocks: msg.blocks };
    if (ts) return { method: 'chat.update', args };
    return { method: 'chat.update', args, refArgs: { ts: { runId, ...(key !== undefined ? { key } : {}) }, thread_ts: headerRef(runId) } };
  }

  /** One delivery queue per channel as configured (a "#name" channel keeps its queue after its id is learnt). */
  private queueOf(run: Run): string {
    return this.pool(run.pool)?.slack.channel ?? run.slack?.channel ?? run.pool;
  }

  /** The refs as last saved for a run (the action listener uses them to find the alert message). */
  slackRefs(runId: string): SlackRefs | undefined {
    return this.refs.get(runId);
  }

  private save(runId: string): void {
    const refs = this.refs.get(runId);
    if (!refs || !this.deps.saveSlackRefs) return;
    this.deps.saveSlackRefs(runId, { ...refs, messages: { ...(refs.messages ?? {}) } }).catch((e: unknown) => {
      this.log.warn({ runId, err: (e as Error).message }, 'could not store the run\'s Slack message refs');
    });
  }

  private post(refs: SlackRefs, msg: SlackMessage, threadTs?: string, broadcast = false): SlackRequest {
    const args: Record<string, unknown> = { channel: refs.channel, text: msg.text, blocks: msg.blocks, unfurl_links: false };
    if (threadTs) args.thread_ts = threadTs;
    if (broadcast && threadTs) args.reply_broadcast = true;
    return { method: 'chat.postMessage', args };
  }

  private learnChannel(refs: SlackRefs, response: Record<string, unknown>): void {
    // chat.update needs the channel id; a pool configured with "#name" learns it from the first post
    if (typeof response.channel === 'string') refs.channel = response.channel;
  }

  /**
   * Queues the header post unless it is known or already queued. Replies queued after it in the same
   * channel queue are built after it was delivered, so they know its ts (also after a restart, when a
   * run recovered without refs gets a fresh header).
   */
  private ensureHeader(run: Run, refs: SlackRefs): void {
    if (refs.headerTs || this.headerQueued.has(run.id)) return;
    this.headerQueued.add(run.id);
    this.deps.outbox.enqueue({
      ...runMessage(run, PRIORITY.alert),
      queue: this.queueOf(run),
      describe: `header ${run.id}`,
      build: () => {
        if (refs.headerTs) return undefined;
        const current = this.latest.get(run.id) ?? run;
        this.headerRevision.set(run.id, current.revision);
        return this.post(refs, runHeaderMessage(current, this.pool(current.pool)));
      },
      persist: () => (refs.headerTs ? undefined : this.post(refs, runHeaderMessage(this.latest.get(run.id) ?? run, this.pool(run.pool)))),
      provides: headerRef(run.id),
      degrade: withoutBlocks,
      onSent: (res) => {
        this.headerQueued.delete(run.id);
        if (typeof res.ts === 'string') refs.headerTs = res.ts;
        this.learnChannel(refs, res);
        this.save(run.id);
      },
    });
  }

  /** A thread reply under the run header. */
  private reply(run: Run, describe: string, build: () => SlackMessage, opts: { broadcast?: boolean; key?: string; alert?: boolean } = {}): void {
    const refs = this.refsOf(run);
    if (!refs) return;
    this.ensureHeader(run, refs);
    this.deps.outbox.enqueue({
      ...runMessage(run, opts.alert ? PRIORITY.alert : PRIORITY.run),
      queue: this.queueOf(run),
      describe: `${describe} ${run.id}`,
      build: () => this.post(refs, build(), refs.headerTs, opts.broadcast),
      persist: () => this.persistedPost(run, refs, build(), opts.broadcast),
      provides: opts.key !== undefined ? { runId: run.id, key: opts.key } : undefined,
      degrade: withoutBlocks,
      onSent: (res) => {
        if (opts.key && typeof res.ts === 'string') {
          refs.messages = { ...(refs.messages ?? {}), [opts.key]: res.ts };
          this.save(run.id);
        }
      },
    });
  }

  /** Refreshes the header in place; waiting refreshes are coalesced and built from the latest run. */
  private updateHeader(run: Run): void {
    const refs = this.refsOf(run);
    if (!refs) return;
    this.ensureHeader(run, refs);
    this.deps.outbox.enqueue({
      ...runMessage(run, PRIORITY.alert),
      queue: this.queueOf(run),
      describe: `header update ${run.id}`,
      coalesceKey: `${HEADER_KEY}${run.id}`,
      build: () => {
        const current = this.latest.get(run.id) ?? run;
        if (!refs.headerTs || this.headerRevision.get(run.id) === current.revision) return undefined;
        this.headerRevision.set(run.id, current.revision);
        return this.headerUpdate(current, refs.channel, refs.headerTs);
      },
      persist: () => {
        const current = this.latest.get(run.id) ?? run;
        // stored with the revision it shows: a later process or replica does not send it over a newer header
        return { ...this.persistedUpdate(run.id, refs, refs.headerTs, runHeaderMessage(current, this.pool(current.pool))), revision: current.revision };
      },
      degrade: withoutBlocks,
      // the header was deleted: post a new one
      fallback: () => {
        const current = this.latest.get(run.id) ?? run;
        return this.post(refs, runHeaderMessage(current, this.pool(current.pool)));
      },
      onSent: (res) => {
        if (typeof res.ts === 'string' && res.ts !== refs.headerTs) {
          refs.headerTs = res.ts;
          this.save(run.id);
        }
      },
    });
  }

  async runStarted(run: Run): Promise<void> {
    this.remember(run);
    this.updateHeader(run);
    // a plan starts one run: every plan message of the pool loses its Start button
    for (const m of this.planMessages.retire(run, this.deps.clock.now(), this.pool(run.pool)?.timezone)) {
      this.deps.outbox.enqueue({
        queue: m.channel,
        describe: `plan start withdrawn ${run.id}`,
        build: () => ({ method: 'chat.update', args: { channel: m.channel, ts: m.ts, text: m.message.text, blocks: m.message.blocks } }),
        persist: () => ({ method: 'chat.update', args: { channel: m.channel, ts: m.ts, text: m.message.text, blocks: m.message.blocks } }),
        degrade: withoutBlocks,
      });
    }
  }

  async runUpdated(run: Run): Promise<void> {
    this.remember(run);
    this.updateHeader(run);
  }

  async runEvent(run: Run, text: string): Promise<void> {
    this.remember(run);
    this.reply(run, 'event', () => runEventMessage(run, text));
  }

  async approvalNeeded(run: Run, step: StepRecord): Promise<void> {
    this.remember(run);
    this.updateHeader(run);
    const msg = () => approvalMessage(run, step, this.pool(run.pool));
    const refs = this.refsOf(run);
    if (!refs?.messages?.[step.id]) return this.reply(run, `approval ${step.id}`, msg, { key: step.id, alert: true });
    // asked before (a Resume after a Hold, a second Resume): that request is asked again in place, with its buttons;
    // a second one would leave the first asking for a gate already decided
    this.replaceKeyed(run, refs, step.id, msg, { describe: `approval ${step.id} asked again`, priority: PRIORITY.alert });
  }

  async approvalDecided(run: Run, step: StepRecord, decision: 'approved' | 'held' | 'aborted', by: string): Promise<void> {
    this.remember(run);
    const at = this.deps.clock.now();
    const refs = this.refsOf(run);
    if (!refs) return;
    const msg = () => approvalDecidedMessage(run, step, decision, by, at, this.pool(run.pool));
    this.replaceKeyed(run, refs, step.id, msg, { describe: `approval decided ${step.id}`, priority: PRIORITY.run });
    this.updateHeader(run);
  }

  /**
   * Replaces the run's message kept under `key` (an approval request) by `msg`, in place. A message never delivered,
   * or deleted since, is posted in the thread instead; one still waiting in the queue is referred to by its key.
   */
  private replaceKeyed(run: Run, refs: SlackRefs, key: string, msg: () => SlackMessage, o: { describe: string; priority: number }): void {
    this.ensureHeader(run, refs);
    this.deps.outbox.enqueue({
      ...runMessage(run, o.priority),
      queue: this.queueOf(run),
      describe: `${o.describe} ${run.id}`,
      build: () => {
        const ts = refs.messages?.[key];
        if (ts) return { method: 'chat.update', args: { channel: refs.channel, ts, text: msg().text, blocks: msg().blocks } };
        return this.post(refs, msg(), refs.headerTs);
      },
      persist: () => {
        const ts = refs.messages?.[key];
        return ts ? this.persistedUpdate(run.id, refs, ts, msg()) : this.persistedUpdate(run.id, refs, undefined, msg(), key);
      },
      degrade: withoutBlocks,
      fallback: () => this.post(refs, msg(), refs.headerTs),
    });
  }

  async stepFailed(run: Run, step: StepRecord, actions: RecoveryAction[]): Promise<void> {
    this.remember(run);
    this.updateHeader(run);
    this.reply(run, `failure ${step.id}`, () => failureMessage(run, step, actions, this.pool(run.pool)), { broadcast: true, key: `failure:${step.id}`, alert: true });
  }

  async runFinished(run: Run): Promise<void> {
    this.remember(run);
    this.updateHeader(run);
    const end = runEndMessages(run, this.pool(run.pool), { toolsFollowUp: this.deps.toolsFollowUp === true });
    this.reply(run, 'summary', () => end.summary, { broadcast: true });
    end.threadMessages.forEach((m, i) => this.reply(run, `summary part ${i + 2}`, () => m));
  }

  /**
   * Multi-hop (R1.4): the next hop's plan, made from the live pool, in the finished hop's thread with its Start
   * button; remembered with the pool's plan messages, so the button is withdrawn once any run of the pool starts.
   */
  async hopPlanned(run: Run, plan: Plan): Promise<void> {
    this.remember(run);
    const refs = this.refsOf(run);
    if (!refs) return;
    const hop = run.plan.hops?.find((h) => h.status === 'this');
    const msg = planBlocks(plan, { requestedBy: `xsupgrade, from the live pool after hop ${hop?.index ?? '?'} (run ${run.id})` });
    this.ensureHeader(run, refs);
    this.deps.outbox.enqueue({
      ...runMessage(run, PRIORITY.run),
      queue: this.queueOf(run),
      describe: `next hop plan ${run.id}`,
      build: () => this.post(refs, msg, refs.headerTs, true),
      persist: () => this.persistedPost(run, refs, msg, true),
      degrade: withoutBlocks,
      onSent: (res) => {
        if (typeof res.ts !== 'string') return;
        const channel = typeof res.channel === 'string' ? res.channel : refs.channel;
        this.planMessages.remember(plan.pool, { channel, ts: res.ts, planId: plan.id, planAt: plan.createdAt, message: { text: msg.text, blocks: msg.blocks } });
      },
    });
    msg.threadMessages.forEach((m, i) => this.reply(run, `next hop plan part ${i + 2}`, () => m));
  }

  /**
   * R5.1 Tools checklist (src/tools/follow-up.ts): posted once in the thread (message key "tools"), then edited in
   * place; waiting edits are coalesced and built from the latest run. An edit whose message was never posted posts it.
   */
  async toolsChecklist(run: Run, first: boolean): Promise<void> {
    this.remember(run);
    const msg = () => toolsChecklistMessage(this.latest.get(run.id) ?? run, this.pool(run.pool));
    if (first) {
      this.reply(run, 'tools checklist', msg, { key: TOOLS_KEY });
      return;
    }
    const refs = this.refsOf(run);
    if (!refs) return;
    this.ensureHeader(run, refs);
    this.deps.outbox.enqueue({
      ...runMessage(run, PRIORITY.run),
      queue: this.queueOf(run),
      describe: `tools checklist update ${run.id}`,
      coalesceKey: `tools:${run.id}`,
      build: () => {
        const ts = refs.messages?.[TOOLS_KEY];
        const m = msg();
        if (ts) return { method: 'chat.update', args: { channel: refs.channel, ts, text: m.text, blocks: m.blocks } };
        return this.post(refs, m, refs.headerTs);
      },
      persist: () => this.persistedUpdate(run.id, refs, refs.messages?.[TOOLS_KEY], msg(), TOOLS_KEY),
      degrade: withoutBlocks,
      fallback: () => this.post(refs, msg(), refs.headerTs),
      onSent: (res) => {
        if (typeof res.ts === 'string' && res.ts !== refs.messages?.[TOOLS_KEY]) {
          refs.messages = { ...(refs.messages ?? {}), [TOOLS_KEY]: res.ts };
          this.save(run.id);
        }
      },
    });
  }

  async poolNotice(pool: string, text: string): Promise<void> {
    const channel = this.pool(pool)?.slack.channel;
    if (!channel) {
      this.log.error({ pool }, 'no Slack channel configured for this pool; notice not posted');
      return;
    }
    const msg: SlackMessage = { text: `${pool}: ${text}`, blocks: sections(`*${esc(pool)}* · ${slackText(text)}`) };
    // watchdogs and window notices are not chatter: after run messages, before plan replies
    this.deps.outbox.enqueue({ queue: channel, describe: `notice ${pool}`, priority: PRIORITY.run, build: () => ({ method: 'chat.postMessage', args: { channel, text: msg.text, blocks: msg.blocks } }), degrade: withoutBlocks });
  }
}
