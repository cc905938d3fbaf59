import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../log';
import { xenapiCalls, xenapiLatency, xenapiOutcome } from '../observe/metrics';
import { downloadDbDump, type DbDumpResult } from './db-dump';
import { assertBeforeDeadline } from './deadline';
import {
  XenApiConnectionError,
  XenApiError,
  XenApiProtocolError,
  XenApiReconnectTimeoutError,
  XenApiTaskLostError,
  XenApiTlsError,
  isXenApiError,
} from './errors';
import { waitFor as waitForEvents, type WaitForOptions, type XenEvent } from './events';
import { RecordBatches, parseRecordBatches } from './record-batches';
import { parseRecord, type RecordClass, type RecordOf } from './records';
import { Redactor } from './redact';
import type { CallOptions, EventFromResult, TaskWaitOptions } from './types';
import { importRawVdi } from './import-vdi';
import type { Readable } from 'node:stream';
import { createAgent, hostUrl, normalizeFingerprint, parseEndpoint, type Endpoint, type TlsOptions } from './tls';
import { sharedDecodePool, type DecodePool } from './decode-pool';
import { DEFAULT_REPLY_LIMITS, replyLimitsFromEnv, type ReplyLimits } from './limits';
import { JsonRpcUnavailable, decodeTaskResult, double, rpc, type Transport } from './wire';

export interface XenApiClientOptions {
  /** master URL: http://127.0.0.2:34567 (sim) or https://10.0.0.1 */
  url: string;
  username: string;
  password: string;
  /** https verifies by default; http:// only with {mode:'insecure-http'} */
  tls?: TlsOptions;
  clock?: Clock;
  logger?: Logger;
  /** sent as login_with_password's originator; default 'xsupgrade' */
  originator?: string;
  /** addresses of other pool members known in advance (reconnect candidates besides the host records read) */
  members?: string[];
  /** real ms without an answer before a call is a connection timeout (default 60 000) */
  requestTimeoutMs?: number;
  /** event.from timeout in (clock) seconds used by waitForTask and watchers (default 30) */
  eventPollSeconds?: number;
  /** clock ms a task is followed when the caller gives no deadline (default 6 h): no wait is endless */
  taskDeadlineMs?: number;
  /** reconnect backoff on the clock: first delay and cap (defaults 1 s and 15 s) */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * 'auto' (default): JSON-RPC first, XML-RPC for a host that does not serve it, chosen per host at each login
   * (so a master upgraded mid-run is probed again after the reconnect). 'xmlrpc'/'jsonrpc' force one (benchmarks).
   */
  transport?: 'auto' | Transport;
  /** reply size and depth bounds; default from XSUPGRADE_XENAPI_MAX_REPLY_MB/_DEPTH (limits.ts) */
  replyLimits?: ReplyLimits;
  /** threads that decode large replies (decode-pool.ts); default the process's, XSUPGRADE_XENAPI_DECODE_THREADS */
  decodePool?: DecodePool;
  /**
   * false: HOST_IS_SLAVE is an error, never followed (a client for one stand-alone host, R4.2: its credentials go to
   * that verified host only, not to whatever master it names). Default true.
   */
  followMasterRedirect?: boolean;
  /** other secrets that must never appear in an error (e.g. repository credentials a plugin may echo) */
  secrets?: Array<string | undefined>;
  /**
   * The uuid of the pool this client works on, when known in advance. Otherwise it is learnt from the first pool
   * record read (pool.get_all_records, or a pool event's snapshot). Either way reconnect() adopts a new master only
   * of this pool.
   */
  poolUuid?: string;
}

export type { CallOptions, EventFromResult, TaskWaitOptions } from './types';

const eventFromSchema = z
  .object({
    events: z.array(
      z
        .object({
          class: z.string(),
          operation: z.string(),
          ref: z.string(),
          id: z.union([z.string(), z.number()]).transform(String).optional(),
          snapshot: z.record(z.string(), z.unknown()).optional(),
        })
        .passthrough(),
    ),
    token: z.string(),
    valid_ref_counts: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

const NO_SESSION = /^(session|system)\./;
const POOL_IDENTITY_FIELDS: ReadonlySet<string> = new Set(['uuid']);
const poolUuidsSchema = z.record(z.string(), z.object({ uuid: z.string().min(1) }).passthrough());
/** The uuids in a pool.get_all_records reply; [] if the reply is not that shape. */
function poolUuidsOf(value: unknown): string[] {
  const parsed = poolUuidsSchema.safeParse(value);
  return parsed.success ? Object.values(parsed.data).map((r) => r.uuid) : [];
}
/**
 * Calls with no side effect. Only these are retried after a connection reset: a keep-alive socket the server
 * closed while idle resets the next request on it, and for a read that is safely repeated. A side effect
 * (host.reboot…) is never re-sent blindly; the runner re-reads the pool and reconciles instead.
 */
const READ_ONLY = /^(\w+\.get_\w+|event\.from|system\.listMethods)$/;

/**
 * XenAPI client over JSON-RPC, or XML-RPC for hosts without it (reference xenapi.md, wire.ts). Sessions, master redirects (HOST_IS_SLAVE),
 * transparent re-login on SESSION_INVALID, tasks through event.from, typed get_all_records, reconnect after a
 * master restart, pool DB dump. Emits 'master-unreachable' (err) when the master stops answering and
 * 'master-back' (address) when a master answers again (R3.8: while the master is down no control operation works).
 */
export class XenApiClient extends EventEmitter {
  private readonly endpoint: Endpoint;
  /** the clock every wait of this client goes through (deadlines are absolute times on it) */
  readonly clock: Clock;
  private readonly logger: Logger;
  private readonly redactor: Redactor;
  private readonly requestTimeoutMs: number;
  private readonly eventPollSeconds: number;
  private readonly taskDeadlineMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private master: string;
  private session: string | undefined;
  private loginInFlight: Promise<void> | undefined;
  private agent: http.Agent | undefined;
  private readonly members = new Set<string>();
  private readonly perMethod = new Map<string, number>();
  private total = 0;
  private unreachable = false;
  /** the transport each host answered on since this client last logged in to it (issue 13) */
  private readonly transports = new Map<string, Transport>();
  private readonly replyLimits: ReplyLimits;
  private readonly decodePool: DecodePool;
  /** the configured TLS settings, plus fingerprints trusted later (trustFingerprint) */
  private tls: TlsOptions | undefined;
  /** the pool this client works on (options, or the first pool record read); reconnect checks it */
  private knownPoolUuid: string | undefined;
  /** a session opened before expectPool named the pool: checked against it before its next call */
  private uncheckedSession: string | undefined;
  private checkingSession: Promise<void> | undefined;

  constructor(private readonly opts: XenApiClientOptions) {
    super();
    this.tls = opts.tls;
    this.knownPoolUuid = opts.poolUuid;
    this.endpoint = parseEndpoint(opts.url, opts.tls);
    this.master = this.endpoint.hostname;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.redactor = new Redactor(opts.password, opts.secrets);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.eventPollSeconds = opts.eventPollSeconds ?? 30;
    this.taskDeadlineMs = opts.taskDeadlineMs ?? 6 * 3600_000;
    this.backoff = { initialMs: opts.backoff?.initialMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 15_000 };
    this.replyLimits = opts.replyLimits ?? (process.env.XSUPGRADE_XENAPI_MAX_REPLY_MB || process.env.XSUPGRADE_XENAPI_MAX_REPLY_DEPTH ? replyLimitsFromEnv() : DEFAULT_REPLY_LIMITS);
    this.decodePool = opts.decodePool ?? sharedDecodePool();
    for (const m of opts.members ?? []) this.rememberMember(m);
    this.rememberMember(this.master);
  }

  /** The transport the current master answered on (undefined before the first call to it). */
  get transport(): Transport | undefined {
    return this.transports.get(this.master);
  }

  /** uuid of the pool this client works on (undefined until given or read) */
  get poolUuid(): string | undefined {
    return this.knownPoolUuid;
  }

  /**
   * This client works on the pool `uuid` from now on (a run's, read back from the store after a restart): as with
   * `poolUuid` given at construction, a login or reconnect adopts only a master of that pool. A session already
   * open is checked before its next call; another pool's master answers that call, and every later one, with
   * XenApiConnectionError EFOREIGNPOOL, and its session is logged out. Nothing else is sent to it.
   */
  expectPool(uuid: string): void {
    if (this.knownPoolUuid === uuid) return;
    this.knownPoolUuid = uuid;
    this.uncheckedSession = this.session;
  }

  /**
   * No run binds this client to a pool any longer: the pool it learnt from its reads (or was told by expectPool) is
   * forgotten, and the next login adopts the pool that answers at the pools file's address, as a fresh client
   * would (a pool rebuilt there under a new uuid). A uuid given at construction stays.
   */
  forgetPool(): void {
    if (this.knownPoolUuid === this.opts.poolUuid) return;
    this.knownPoolUuid = this.opts.poolUuid;
    this.uncheckedSession = this.opts.poolUuid ? this.session : undefined;
  }

  /** current master host (ip or name) the client talks to */
  get masterAddress(): string {
    return this.master;
  }

  /** URL of the current master, same scheme and port as the configured one */
  get masterUrl(): string {
    return hostUrl(this.endpoint, this.master);
  }

  /** XML-RPC round trips sent since creation or the last resetCallCount() (logins included) */
  get callCount(): number {
    return this.total;
  }

  /** round trips per wire method name */
  get callCounts(): Record<string, number> {
    return Object.fromEntries(this.perMethod);
  }

  resetCallCount(): void {
    this.total = 0;
    this.perMethod.clear();
  }

  get isLoggedIn(): boolean {
    return this.session !== undefined;
  }

  /** The current session ref, for the session.* calls about this session (its RBAC permissions); logs in if needed. */
  async sessionRef(): Promise<string> {
    if (!this.session) await this.login();
    return this.session!;
  }

  /** every pool member address seen (options, host records, redirects) */
  get knownMembers(): string[] {
    return [...this.members];
  }

  rememberMember(address: string | undefined): void {
    if (address) this.members.add(address);
  }

  /**
   * session.login_with_password(u, p, '1.0', originator); follows HOST_IS_SLAVE [master] once. Once the pool's
   * identity is known (a re-login after SESSION_INVALID, or poolUuid given), one pool read checks the master is
   * still of that pool: otherwise that session is logged out and a XenApiConnectionError (EFOREIGNPOOL) thrown.
   */
  async login(): Promise<void> {
    if (!this.loginInFlight) {
      this.loginInFlight = (async () => {
        const { session, host } = await this.loginAt(this.master);
        if (this.knownPoolUuid) {
          const found = await this.samePool(host, session);
          if (found !== true) throw await this.foreignPool(host, session, found, 'login', 'session.login_with_password');
        }
        this.setMaster(host);
        this.session = session;
      })().finally(() => (this.loginInFlight = undefined));
    }
    return this.loginInFlight;
  }

  /** Ends the session (best effort if the master is gone) and closes idle connections. */
  async logout(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    try {
      if (session) await this.send(this.master, 'session.logout', [session]);
    } catch (e) {
      if (!(e instanceof XenApiConnectionError) && !isXenApiError(e, 'SESSION_INVALID')) throw e;
      this.logger.debug({ host: this.master, err: (e as Error).message }, 'logout: session already gone');
    } finally {
      this.agent?.destroy();
      this.agent = undefined;
    }
  }

  /** Calls `method` with the session ref prepended (except session.* and system.*), unwrapping {Status, Value}. */
  async call<T = unknown>(method: string, params: unknown[] = [], opts: CallOptions = {}): Promise<T> {
    const needsSession = !NO_SESSION.test(method);
    let relogged = false;
    let redirected = false;
    let resent = false;
    for (;;) {
      if (needsSession && !this.session) await this.login();
      if (needsSession && this.session && this.session === this.uncheckedSession) await this.checkSession();
      const used = this.session;
      try {
        const value = await this.send(this.master, method, needsSession ? [used, ...params] : params, opts);
        this.noteMembers(method, value);
        return value as T;
      } catch (e) {
        if (isXenApiError(e, 'SESSION_INVALID') && needsSession && !relogged) {
          relogged = true;
          if (this.session === used) this.session = undefined;
          this.logger.info({ host: this.master, method }, 'session invalid: logging in again');
          continue;
        }
        if (e instanceof XenApiConnectionError && e.code === 'ECONNRESET' && READ_ONLY.test(method) && !resent) {
          resent = true;
          this.logger.debug({ host: this.master, method }, 'connection reset: sending the read again once');
          continue;
        }
        if (isXenApiError(e, 'HOST_IS_SLAVE') && e.params[0] && !redirected && this.opts.followMasterRedirect !== false) {
          redirected = true;
          this.logger.info({ from: this.master, to: e.params[0], method }, 'HOST_IS_SLAVE: following to the master');
          this.setMaster(e.params[0]);
          continue;
        }
        throw e;
      }
    }
  }

  /** `Async.<method>` then waitForTask: resolves with the task's decoded result. */
  async callAsync<T = string>(method: string, params: unknown[] = [], opts: TaskWaitOptions = {}): Promise<T> {
    opts.signal?.throwIfAborted(); // already stopped: nothing is sent
    const task = await this.call<string>(`Async.${method}`, params);
    return this.waitForTask<T>(task, opts);
  }

  /**
   * Follows the task through event.from on `task/<ref>` (no sleep-polling): the first event.from with an empty
   * token returns the task's current record, later ones block until it changes. Success → the decoded result;
   * failure → XenApiError from error_info; both destroy the task (unless opts.keep). Every wait has a deadline (the caller's, else
   * taskDeadlineMs): when it passes → XenApiTimeoutError (the task is left running and not destroyed: it may still
   * complete). A batch without the task (a poll window passed, or the master restarted: real xapi loses tasks with
   * no `del` event) is checked with task.get_status: a task that no longer exists → XenApiTaskLostError.
   * `beforeDestroy` runs before task.destroy and may refuse it (TaskWaitOptions). `signal` stops the wait at once with
   * its reason (the long-poll in flight is abandoned); the task is left as it is, neither cancelled nor destroyed.
   */
  async waitForTask<T = string>(task: string, opts: TaskWaitOptions = {}): Promise<T> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const deadline = opts.deadlineMs ?? this.clock.now() + this.taskDeadlineMs;
    let token = '';
    for (;;) {
      signal?.throwIfAborted();
      const remaining = assertBeforeDeadline(this.clock, deadline, `task ${task}`);
      const waitS = Math.min(this.eventPollSeconds, remaining / 1000);
      let batch: EventFromResult;
      try {
        // the signal aborts the request itself (wire.ts rejects with its reason): no waiting out the poll window
        batch = await this.eventFrom([`task/${task}`], token, waitS, { signal });
      } catch (e) {
        signal?.throwIfAborted();
        if (isXenApiError(e, 'EVENTS_LOST') || isXenApiError(e, 'EVENT_FROM_TOKEN_PARSE_FAILURE')) {
          token = '';
          continue;
        }
        throw e;
      }
      token = batch.token;
      const mine = batch.events.filter((ev) => ev.ref === task);
      if (mine.length === 0) await this.assertTaskExists(task, signal);
      for (const ev of mine) {
        if (ev.operation === 'del') throw new XenApiTaskLostError(`task ${task} was destroyed before it finished`, task, 'task');
        if (!ev.snapshot) continue;
        const rec = parseRecord('task', task, ev.snapshot);
        if (rec.status === 'pending' || rec.status === 'cancelling') continue;
        if (rec.status === 'success') {
          // an unreadable result is quoted in the decoder's error: it may echo a secret the call was given
          const result = (await decodeTaskResult(rec.result).catch((e: Error) => {
            throw new XenApiProtocolError(this.redactor.redactPieces(`task ${task}: ${e.message}`), this.master, rec.name_label);
          })) as T;
          await this.endTask(task, opts);
          return result;
        }
        const [code = rec.status === 'cancelled' ? 'TASK_CANCELLED' : 'INTERNAL_ERROR', ...params] =
          rec.error_info.length > 0 ? rec.error_info.map(this.redactor.redact) : [undefined, task];
        await this.endTask(task, opts);
        throw new XenApiError(code, params.filter((p): p is string => p !== undefined), rec.name_label, this.master);
      }
    }
  }

  /** An ended task followed: destroyed (after beforeDestroy allows it), unless the caller keeps it (TaskWaitOptions.keep). */
  private async endTask(task: string, opts: TaskWaitOptions): Promise<void> {
    if (opts.keep) return;
    // no longer followed once aborted: its destroy (a change to the pool) is left to xapi's collection of ended tasks
    opts.signal?.throwIfAborted();
    await opts.beforeDestroy?.();
    await this.destroyTask(task);
  }

  /** task.get_status; HANDLE_INVALID → XenApiTaskLostError (the task vanished without an event). Other answers: keep waiting. */
  private async assertTaskExists(task: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call('task.get_status', [task], { signal });
    } catch (e) {
      signal?.throwIfAborted();
      if (isXenApiError(e, 'HANDLE_INVALID')) throw new XenApiTaskLostError(`task ${task} no longer exists (lost in a master restart, or destroyed)`, task, 'task');
      if (!(e instanceof XenApiError)) throw e;
      this.logger.debug({ task, err: e.message }, 'task.get_status refused; still following the task by events');
    }
  }

  /** event.from(classes, token, timeout) with the timeout sent as <double> and the reply validated. */
  async eventFrom(classes: string[], token: string, timeoutSeconds: number, opts: CallOptions = {}): Promise<EventFromResult> {
    const t = Math.max(0, timeoutSeconds);
    // The server blocks up to `t` seconds of ITS clock (scaled in the simulator); allow that on top of the usual budget.
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs + Math.ceil((t * 1000) / this.clock.scale);
    const raw = await this.call('event.from', [classes, token, double(t)], { ...opts, timeoutMs });
    const parsed = eventFromSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`event.from reply: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    if (!this.knownPoolUuid) this.notePoolUuid(parsed.data.events.filter((ev) => ev.class === 'pool').map((ev) => ev.snapshot?.uuid));
    return parsed.data as EventFromResult;
  }

  /**
   * `<cls>.get_all_records` in one round trip, each record zod-parsed (records.ts). Over XML-RPC only the fields
   * the schema declares are decoded at all (recordFields).
   */
  async getAllRecords<C extends RecordClass>(cls: C): Promise<Record<string, RecordOf<C>>> {
    return (await this.getAllRecordBatches(cls)).whole();
  }

  /**
   * getAllRecords as the batches the records came in (record-batches.ts): a reader that takes what it needs from
   * each batch in turn keeps no whole class of records on the event loop's heap (inventory/convert.ts).
   */
  async getAllRecordBatches<C extends RecordClass>(cls: C): Promise<RecordBatches<C>> {
    const raw = await this.call(`${cls}.get_all_records`, [], { records: cls });
    return parseRecordBatches(cls, raw);
  }

  /** Resolves with the first event (initial records included) for which `predicate` holds; see events.ts. */
  waitFor(predicate: (ev: XenEvent) => boolean, opts: WaitForOptions): Promise<XenEvent> {
    return waitForEvents(this, predicate, { clock: this.clock, ...opts });
  }

  /**
   * After a master restart (R3.8): log in again, first on the master's address, then on every other known member,
   * following HOST_IS_SLAVE, with capped exponential backoff on the clock until `deadlineMs` (absolute clock time).
   * HOST_STILL_BOOTING and other emergency-mode answers, and unreadable replies (an HTML error page from a broken
   * xapi), mean "try the next one / later". Wrong credentials
   * end it at once. A master is adopted only if it is the master of the pool this client works on (its pool uuid,
   * one read per login here): a former member reinstalled stand-alone, or in another pool, at the same address with
   * the same credentials is logged out and skipped, never driven. Emits 'master-back' when a master accepted the
   * login after an outage.
   */
  async reconnect(opts: { deadlineMs: number }): Promise<void> {
    let delay = this.backoff.initialMs;
    const tried = new Set<string>();
    const foreign = new Set<string>();
    let last = '';
    for (;;) {
      const candidates = [this.master, ...[...this.members].filter((m) => m !== this.master)];
      for (const host of candidates) {
        tried.add(host);
        try {
          const { session, host: master } = await this.loginAt(host);
          const found = await this.samePool(master, session);
          if (found !== true) {
            const who = master === host ? host : `${host} (through ${master})`;
            foreign.add(who);
            last = `${who}: belongs to another pool`;
            this.logger.warn({ host: master, via: host, expected: this.knownPoolUuid, found }, 'reconnect: this master belongs to another pool; not adopted');
            await this.logoutAt(master, session);
            if (this.clock.now() >= opts.deadlineMs) break;
            continue;
          }
          this.session = session;
          this.setMaster(master);
          this.markReachable();
          this.logger.info({ master }, 'reconnected to the pool master');
          return;
        } catch (e) {
          if (isXenApiError(e, 'SESSION_AUTHENTICATION_FAILED')) throw e;
          // an unreadable reply (xapi half up or broken: an HTML error page, bytes that are not XML) says nothing of
          // where the master is: like a refused connection, try the next member. Only login and the pool read go
          // out here, never a state-changing call.
          if (!(e instanceof XenApiError || e instanceof XenApiConnectionError || e instanceof XenApiTlsError || e instanceof XenApiProtocolError)) throw e;
          last = `${host}: ${e instanceof XenApiError ? e.code : e.message}`;
          this.logger.debug({ host, err: last }, 'reconnect attempt failed');
        }
        if (this.clock.now() >= opts.deadlineMs) break;
      }
      const remaining = opts.deadlineMs - this.clock.now();
      if (remaining <= 0) {
        const others = [...foreign].map((h) => `; ${h} belongs to another pool (not adopted)`).join('');
        throw new XenApiReconnectTimeoutError(
          `pool master not reachable before the deadline; tried ${[...tried].join(', ')} (last: ${last})${others}`,
          this.master,
          [...tried],
        );
      }
      await this.clock.sleep(Math.min(delay, remaining));
      delay = Math.min(delay * 2, this.backoff.maxMs);
    }
  }

  /** GET /pool/xmldbdump?session_id=… streamed to `file` (R2.1); a refused session (HTTP 401/403) logs in again once. */
  async dumpDatabase(file: string): Promise<DbDumpResult> {
    return this.withMasterSession((sessionRef) =>
      downloadDbDump({ endpoint: this.endpoint, hostname: this.master, agent: this.getAgent(), sessionRef, file, idleTimeoutMs: this.requestTimeoutMs }),
    );
  }

  /**
   * PUT /import_raw_vdi into `vdi` (R3.10 update upload); a refused session (HTTP 401/403) logs in again once, before
   * any byte was sent. Never retried after bytes went out: the caller reconciles (a partial VDI is destroyed).
   */
  async importRawVdi(vdi: string, source: () => Promise<{ size: number; stream: Readable }>, onProgress?: (sent: number) => void): Promise<void> {
    let sentAny = false;
    return this.withMasterSession(
      async (sessionRef) => {
        sentAny = false;
        const { size, stream } = await source();
        try {
          return await importRawVdi({
            endpoint: this.endpoint,
            hostname: this.master,
            agent: this.getAgent(),
            sessionRef,
            vdi,
            size,
            body: stream,
            idleTimeoutMs: this.requestTimeoutMs,
            onProgress: (n) => {
              sentAny = n > 0;
              onProgress?.(n);
            },
          });
        } catch (e) {
          stream.destroy();
          throw e;
        }
      },
      () => !sentAny,
    );
  }

  /**
   * An HTTP transfer on the master with the pool's session (DB dump, VDI import): a session the master refuses
   * (HTTP 401/403) is replaced by one new login, once, when `mayRetry` says the transfer had no effect yet.
   */
  private async withMasterSession<T>(transfer: (sessionRef: string) => Promise<T>, mayRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (!this.session) await this.login();
      try {
        return await transfer(this.session!);
      } catch (e) {
        if (e instanceof XenApiConnectionError && e.host === this.master) this.markUnreachable(e);
        if (e instanceof XenApiProtocolError && (e.httpStatus === 401 || e.httpStatus === 403) && attempt === 0 && mayRetry()) {
          this.session = undefined;
          continue;
        }
        throw this.redactor.scrub(e);
      }
    }
  }

  /**
   * Pinned pools: also accept this certificate from now on (a member rejoined after a reinstall with a certificate an
   * approver confirmed, R4.2). Idle connections are closed so the next one uses the new set. No effect in other modes.
   */
  trustFingerprint(fingerprint256: string): void {
    const t = this.tls;
    if (t?.mode !== 'pinned') return;
    const pins = [t.fingerprint256].flat();
    if (pins.some((p) => normalizeFingerprint(p) === normalizeFingerprint(fingerprint256))) return;
    this.tls = { mode: 'pinned', fingerprint256: [...pins, fingerprint256] };
    // new connections get the new set; a call in flight on the old agent finishes (only its idle sockets are closed)
    const old = this.agent;
    this.agent = undefined;
    if (old) for (const list of Object.values(old.freeSockets)) for (const socket of list ?? []) socket.destroy();
  }

  /** Closes idle keep-alive connections without logging out (for tests and shutdown after logout()). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  // ---- internals ----

  /**
   * Whether the master `host` (logged in with `session`) is the master of the pool this client works on: true, or
   * what it reported instead (another uuid, or 'no single pool record'). Unknown identity (no pool record read yet,
   * none given): true, with a warning, as before this check existed. A failed read logs that session out and throws.
   */
  private async samePool(host: string, session: string): Promise<true | string> {
    const expected = this.knownPoolUuid;
    if (!expected) {
      this.logger.warn({ host }, 'reconnect: pool identity unknown (no pool record read yet): the new master cannot be checked');
      return true;
    }
    let raw: unknown;
    try {
      raw = await this.send(host, 'pool.get_all_records', [session], { recordFields: POOL_IDENTITY_FIELDS });
    } catch (e) {
      await this.logoutAt(host, session);
      throw e;
    }
    const uuids = poolUuidsOf(raw);
    if (uuids.length !== 1) return 'no single pool record';
    return uuids[0] === expected ? true : uuids[0]!;
  }

  /** The open session, made before the pool was named (expectPool), is checked once; another pool's is closed. */
  private checkSession(): Promise<void> {
    this.checkingSession ??= (async () => {
      const session = this.uncheckedSession!;
      const host = this.master;
      const drop = () => {
        this.uncheckedSession = undefined;
        if (this.session === session) this.session = undefined;
      };
      let found: true | string;
      try {
        found = await this.samePool(host, session);
      } catch (e) {
        drop(); // samePool logged it out: the next call logs in again, and login checks the pool
        throw e;
      }
      if (found !== true) {
        drop();
        throw await this.foreignPool(host, session, found, 'session check', 'session');
      }
      this.uncheckedSession = undefined;
    })().finally(() => (this.checkingSession = undefined));
    return this.checkingSession;
  }

  /** A master of another pool (samePool's `found`): its session logged out, and the error that says so. */
  private async foreignPool(host: string, session: string, found: string, when: string, method: string): Promise<XenApiConnectionError> {
    this.logger.warn({ host, expected: this.knownPoolUuid, found }, `${when}: this master belongs to another pool; not adopted`);
    await this.logoutAt(host, session);
    return new XenApiConnectionError(`${host} belongs to another pool (pool uuid ${found}, expected ${this.knownPoolUuid}): not adopted`, host, method, 'EFOREIGNPOOL');
  }

  /** Best-effort session.logout of a session this client will not use (a foreign pool's, a failed check). */
  private async logoutAt(host: string, session: string): Promise<void> {
    try {
      await this.send(host, 'session.logout', [session]);
    } catch (e) {
      this.logger.debug({ host, err: (e as Error).message }, 'logout of an unused session failed');
    }
  }

  private async loginAt(host: string): Promise<{ session: string; host: string }> {
    // a new login is a new connection to that host: its transport is probed again (it may have been upgraded)
    this.transports.delete(host);
    const params = [this.opts.username, this.opts.password, '1.0', this.opts.originator ?? 'xsupgrade'];
    try {
      const session = String(await this.send(host, 'session.login_with_password', params));
      this.redactor.add(session);
      this.logger.info({ host, username: this.opts.username }, 'logged in to the pool');
      return { session, host };
    } catch (e) {
      if (isXenApiError(e, 'HOST_IS_SLAVE') && e.params[0] && this.opts.followMasterRedirect !== false) {
        const master = e.params[0];
        this.transports.delete(master);
        this.rememberMember(host);
        this.logger.info({ from: host, to: master }, 'login: HOST_IS_SLAVE, following to the master');
        const session = String(await this.send(master, 'session.login_with_password', params));
        this.redactor.add(session);
        this.logger.info({ host: master, username: this.opts.username }, 'logged in to the pool');
        return { session, host: master };
      }
      throw e;
    }
  }

  private async send(host: string, method: string, params: unknown[], opts: CallOptions = {}): Promise<unknown> {
    this.total += 1;
    this.perMethod.set(method, (this.perMethod.get(method) ?? 0) + 1);
    this.logger.debug({ host, method }, 'xenapi call');
    const started = performance.now();
    const observe = (err?: unknown) => {
      xenapiCalls.inc({ method, outcome: xenapiOutcome(err) });
      xenapiLatency.observe({ method }, (performance.now() - started) / 1000);
    };
    try {
      const value = await this.sendOn(host, method, params, opts);
      if (host === this.master) this.markReachable();
      observe();
      return value;
    } catch (raw) {
      // the one boundary where XenAPI and plugin error texts enter the bot: secrets are removed here
      const e = this.redactor.scrub(raw);
      observe(e);
      if (e instanceof XenApiConnectionError && host === this.master) this.markUnreachable(e);
      else if (e instanceof XenApiError && host === this.master) this.markReachable();
      throw e;
    }
  }

  /**
   * JSON-RPC first unless this host is known to answer XML-RPC only. A JsonRpcUnavailable answer (404, an HTML
   * page, an XML-RPC fault on /jsonrpc) is evidence the call did not run, so it is sent once over XML-RPC.
   */
  private async sendOn(host: string, method: string, params: unknown[], opts: CallOptions): Promise<unknown> {
    const forced = this.opts.transport && this.opts.transport !== 'auto' ? this.opts.transport : undefined;
    const transport = forced ?? this.transports.get(host) ?? 'jsonrpc';
    let answered: Transport | undefined;
    const request = (t: Transport) =>
      rpc({
        endpoint: this.endpoint,
        hostname: host,
        agent: this.getAgent(),
        method,
        params,
        timeoutMs: opts.timeoutMs ?? this.requestTimeoutMs,
        signal: opts.signal,
        redact: this.redactor.redact,
        redactPieces: this.redactor.redactPieces,
        transport: t,
        limits: this.replyLimits,
        answeredIn: (a) => (answered = a),
        recordFields: opts.recordFields,
        records: opts.records,
        decodePool: this.decodePool,
      });
    try {
      return await request(transport);
    } catch (e) {
      if (!(e instanceof JsonRpcUnavailable) || transport === 'xmlrpc') throw e;
      if (forced) throw new XenApiProtocolError(`${host} does not serve JSON-RPC: ${e.message}`, host, method);
      this.logger.info({ host, reason: e.message }, 'no JSON-RPC on this host: sending over XML-RPC');
      this.transports.set(host, 'xmlrpc');
      this.total += 1;
      this.perMethod.set(method, (this.perMethod.get(method) ?? 0) + 1);
      return await request('xmlrpc');
    } finally {
      // an answer in XML-RPC to /jsonrpc (7.0, 7.2) means: carry on over XML-RPC with this host
      if (answered) this.transports.set(host, answered);
    }
  }

  private getAgent(): http.Agent {
    this.agent ??= createAgent(this.endpoint, this.tls);
    return this.agent;
  }

  private setMaster(address: string): void {
    this.rememberMember(this.master);
    this.rememberMember(address);
    this.master = address;
  }

  private markUnreachable(err: XenApiConnectionError): void {
    this.transports.delete(this.master);
    if (this.unreachable) return;
    this.unreachable = true;
    this.logger.warn({ host: this.master, code: err.code }, 'pool master unreachable');
    this.emit('master-unreachable', err);
  }

  private markReachable(): void {
    if (!this.unreachable) return;
    this.unreachable = false;
    this.logger.info({ host: this.master }, 'pool master answering again');
    this.emit('master-back', this.master);
  }

  /** The first pool record read (get_all_records, or an event's snapshot) names the pool this client works on. */
  private notePoolUuid(uuids: unknown[]): void {
    const distinct = new Set(uuids.filter((u): u is string => typeof u === 'string' && u !== ''));
    if (distinct.size === 1) this.knownPoolUuid = [...distinct][0];
  }

  private noteMembers(method: string, value: unknown): void {
    if (method !== 'pool.get_all_records' && method !== 'host.get_all_records') return;
    // a decode thread's records come in batches (record-batches.ts): the pool and host ones are small
    const batches: unknown[] = value instanceof RecordBatches ? [...value.batches()] : [value];
    if (method === 'pool.get_all_records') {
      if (!this.knownPoolUuid) this.notePoolUuid(batches.flatMap(poolUuidsOf));
      return;
    }
    for (const batch of batches) {
      if (batch === null || typeof batch !== 'object') continue;
      for (const rec of Object.values(batch as Record<string, unknown>)) {
        const address = (rec as { address?: unknown } | null)?.address;
        if (typeof address === 'string') this.rememberMember(address);
      }
    }
  }

  private async destroyTask(task: string): Promise<void> {
    try {
      await this.call('task.destroy', [task]);
    } catch (e) {
      this.logger.warn({ task, err: (e as Error).message }, 'task.destroy failed');
    }
  }
}

