/**
 * Slack benchmark (issue 5): slash-command acknowledgement latency under a burst of concurrent, correctly signed
 * `/xsupgrade plan <pool>` and `/xsupgrade status <pool>` requests, against a simulated 16-host pool.
 *
 * Everything is real except Slack itself: the Bolt app from src/slack/app.ts (HTTP receiver on 127.0.0.1:0, signature
 * verification on), the core from src/core (fresh snapshot + planner for every plan), an in-memory store, and the
 * simulator speaking XML-RPC on loopback. Slack's Web API is the sandbox's fake (src/sandbox/fake-web-api.ts).
 *
 * - ack latency: from sending the signed request until its HTTP response has been read (Slack wants it within 3 s).
 * - answer latency: from sending the request until the answer reached the fake Web API: for `plan` the plan message
 *   (chat.postMessage naming the requester), for `status` the ephemeral reply (chat.postEphemeral to the requester).
 *
 * The outbox's per-channel spacing (Slack allows ~1 message/s/channel) is set to `minIntervalMs` (default 0) so the
 * answer latency measures the bot's own work, not a deliberate pacing of 100 messages in one channel.
 * The simulator runs in a worker thread when the compiled simulator is available (npm run bench), so the pool's
 * XML-RPC work does not share the bot's event loop, as with a real pool; otherwise (ts-jest) in-process.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { systemClock, type Clock } from '../src/clock';
import type { PoolConfig } from '../src/config/pools';
import { createCore } from '../src/core';
import type { Notifier } from '../src/domain/ports';
import { silentLogger } from '../src/log';
import { loadUpgradePaths } from '../src/planner';
import { DEFAULT_DIRECTORY } from '../src/sandbox/directory';
import { startFakeSlackApi, type FakeCall, type FakeSlackApi } from '../src/sandbox/fake-web-api';
import { generateScenario, startSimulator, type Scenario } from '../src/sim';
import type { TlsOptions } from '../src/xenapi/tls';
import { createSlackApp } from '../src/slack/app';
import { openStore } from '../src/store';
import { markdownTable, ms, projectFile, summarise, type LatencySummary } from './harness';
import { startInChildProcess } from './sim-process';

export type BenchCommand = 'plan' | 'status' | 'help';

export interface SlackBenchOptions {
  hosts?: number;
  vmsPerHost?: number;
  /** requests per burst, all sent at once */
  concurrency?: number;
  /** one burst per entry, in order */
  bursts?: BenchCommand[];
  /**
   * where the simulator runs; default 'worker' when the compiled simulator exists, else 'in-process'.
   * 'child-process': a process of its own at nice 19 (Linux), as bench/read.ts has it (xapi is not on the bot's host)
   */
  simulator?: SimulatorPlace;
  /** outbox spacing between two messages of one channel (the app's default is 1000 ms) */
  minIntervalMs?: number;
  /** during a plan burst, one status probe every this many ms until the plans are answered (0 = none; default 250) */
  probeEveryMs?: number;
  /** at most this many probes per plan burst (default 400) */
  maxProbes?: number;
  /** the command the probes send (default status; `help` is answered in the ack itself, issue 13) */
  probeCommand?: BenchCommand;
  /** real-time bound for a burst to be fully answered */
  burstTimeoutMs?: number;
  print?: boolean;
}

export interface SlackBurstRow {
  command: BenchCommand;
  /** set for the status probes sent while a burst of this command was being processed */
  during?: BenchCommand;
  requests: number;
  /** HTTP 200 answers to the signed requests */
  acked: number;
  ack: LatencySummary;
  /** every acknowledged request's ack latency, in the order sent (to pool the samples of several bursts) */
  ackSamplesMs: number[];
  /** requests whose answer (plan message / ephemeral reply) reached the fake Web API */
  answered: number;
  answer: LatencySummary;
  /** requests not acknowledged, or answered with an error (e.g. the pool could not be read); counted, never retried */
  failed: number;
  /** up to three distinct error replies */
  failures: string[];
  /** from the first request sent until the last answer arrived */
  burstMs: number;
  /** Web API calls the burst caused, by method */
  apiCalls: Record<string, number>;
}

export interface SlackBenchResult {
  hosts: number;
  vms: number;
  runningVms: number;
  simulator: SimulatorPlace;
  minIntervalMs: number;
  probeEveryMs: number;
  rows: SlackBurstRow[];
}

const POOL = 'pool-bench';

/**
 * Real time for the Slack app, with timers that do not keep the process alive: SlackApp.stop() races the outbox
 * against a 5 s wait it does not cancel, which would hold `npm run bench` (and jest) open for 5 s after the end.
 */
const unrefClock: Clock = {
  scale: 1,
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
const PASSWORD_ENV = 'XSUPGRADE_BENCH_POOL_PASSWORD';
const EVENTS_PATH = '/slack/events';

export type SimulatorPlace = 'worker' | 'in-process' | 'child-process';

/** The fields of a simulator the bench needs, wherever it runs. */
export interface SimHandle {
  masterUrl: string;
  username: string;
  password: string;
  /** the simulator's TLS settings for a client (its hosts' certificates pinned) */
  tls: TlsOptions;
  stop(): Promise<void>;
}

export async function startInProcess(scenario: Scenario): Promise<SimHandle> {
  const sim = await startSimulator(scenario);
  return { masterUrl: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, stop: () => sim.stop() };
}

/** The simulator in a worker thread (its own event loop, the machine's second core), from the compiled dist/src/sim. */
export async function startInWorker(scenario: Scenario, simModule: string): Promise<SimHandle> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { startSimulator } = require(workerData.simModule);
    startSimulator(workerData.scenario).then((sim) => {
      parentPort.on('message', (m) => {
        if (m === 'stop') sim.stop().then(() => parentPort.postMessage({ stopped: true }));
      });
      parentPort.postMessage({ masterUrl: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
    }, (e) => parentPort.postMessage({ error: String(e && e.message || e) }));`;
  const worker = new Worker(code, { eval: true, workerData: { simModule, scenario } });
  const first = await new Promise<{ masterUrl: string; username: string; password: string; tls: TlsOptions; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (first.error) {
    await worker.terminate();
    throw new Error(`simulator worker: ${first.error}`);
  }
  return {
    masterUrl: first.masterUrl,
    username: first.username,
    password: first.password,
    tls: first.tls,
    async stop() {
      const stopped = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}

/** The compiled simulator next to this module (dist/bench → dist/src/sim), or undefined under ts-jest. */
export function compiledSimModule(): string | undefined {
  if (!__filename.endsWith('.js')) return undefined;
  const path = require.resolve('../src/sim');
  return path.endsWith('.js') && existsSync(path) ? path : undefined;
}

function poolConfig(sim: SimHandle, scenario: Scenario): PoolConfig {
  const repo = scenario.repositories.find((r) => r.reachable);
  return {
    name: POOL,
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: PASSWORD_ENV,
    tls: sim.tls,
    target: '7.6',
    upgrade: repo ? { mode: 'automatic', repositoryUrl: repo.url } : { mode: 'manual' },
    slack: { channel: DEFAULT_DIRECTORY.channel.id, approvers: { users: [], groups: DEFAULT_DIRECTORY.userGroups.map((g) => g.id) }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
  };
}

function sign(secret: string, body: string, timestamp: number): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

interface PreparedRequest {
  user: string;
  body: string;
  headers: Record<string, string>;
}

interface SentRequest {
  user: string;
  /** absolute high-resolution time (performance.timeOrigin + now) the request was sent */
  sentAt: number;
  ackMs: number;
  status: number;
  error?: string;
}

/**
 * The load generator, in a worker thread: it plays Slack, so its clock must not wait on the bot's busy event
 * loop (an in-process client would add the bot's own loop delay to every reading). Plain JS: runs under ts-jest too.
 * It first sends a few requests to a server of its own (its HTTP client's code is compiled by then: the first probes
 * of a fresh thread measured 40–100 ms of its own start-up), then `requests` all at once; then, if `probes` are
 * given, one probe every `probeEveryMs` until told to stop.
 */
const LOAD_GENERATOR = `
  const { parentPort, workerData } = require('node:worker_threads');
  const http = require('node:http');
  const { performance } = require('node:perf_hooks');
  const { url, requests, probes, probeEveryMs } = workerData;
  const u = new URL(url);
  // a fresh connection per request, as a webhook sender does: no keep-alive reuse races in the figures
  const agent = new http.Agent({ keepAlive: false });
  const now = () => performance.timeOrigin + performance.now();
  const send = (r, to = u) => new Promise((resolve) => {
    const sentAt = now();
    const done = (status, error) => resolve({ user: r.user, sentAt, ackMs: now() - sentAt, status, error });
    const req = http.request({ agent, host: to.hostname, port: to.port, path: to.pathname, method: 'POST',
      headers: Object.assign({}, r.headers, { 'Content-Length': Buffer.byteLength(r.body) }) }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
      res.on('error', (e) => done(0, e.message));
    });
    req.on('error', (e) => done(0, e.message));
    req.end(r.body);
  });
  const sentProbes = [];
  let next = 0;
  let timer;
  let stopped = false;
  parentPort.on('message', (m) => {
    if (m !== 'stop') return;
    stopped = true;
    if (timer) clearInterval(timer);
    Promise.all(sentProbes).then((results) => { agent.destroy(); parentPort.postMessage({ kind: 'probes', results }); });
  });
  const warmUp = http.createServer((q, s) => { q.resume(); q.on('end', () => s.end('ok')); });
  warmUp.listen(0, '127.0.0.1', async () => {
    const to = new URL('http://127.0.0.1:' + warmUp.address().port + '/');
    for (let i = 0; i < 20; i++) await send({ user: 'warm-up', body: 'x', headers: {} }, to);
    warmUp.close();
    if (stopped) return;
    if (probes.length > 0) timer = setInterval(() => { if (next < probes.length) sentProbes.push(send(probes[next++])); }, probeEveryMs);
    Promise.all(requests.map((r) => send(r))).then((results) => parentPort.postMessage({ kind: 'burst', results }));
  });`;

interface LoadGenerator {
  /** the burst's requests, once all are acknowledged */
  burst: Promise<SentRequest[]>;
  /** stops probing; the probes sent, once all are acknowledged */
  stop(): Promise<SentRequest[]>;
}

function startLoad(url: URL, requests: PreparedRequest[], probes: PreparedRequest[], probeEveryMs: number): LoadGenerator {
  const worker = new Worker(LOAD_GENERATOR, { eval: true, workerData: { url: url.toString(), requests, probes, probeEveryMs } });
  const waiters = new Map<string, (r: SentRequest[]) => void>();
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`load generator exited with code ${code}`)));
  });
  failed.catch(() => undefined);
  worker.on('message', (m: { kind: string; results: SentRequest[] }) => waiters.get(m.kind)?.(m.results));
  const message = (kind: string) => Promise.race([new Promise<SentRequest[]>((resolve) => waiters.set(kind, resolve)), failed]);
  const burst = message('burst');
  let stopped: Promise<SentRequest[]> | undefined;
  return {
    burst,
    stop() {
      stopped ??= (async () => {
        const probes = message('probes');
        worker.postMessage('stop');
        try {
          return await probes;
        } finally {
          await worker.terminate();
        }
      })();
      return stopped;
    },
  };
}

const now = () => performance.timeOrigin + performance.now();

/** A unique Slack user id per request, so each answer can be matched to its request (P = probe). */
const benchUser = (burst: number, i: number, probe = false) => `UB${burst}${probe ? 'P' : 'X'}${String(i).padStart(4, '0')}`;
const BENCH_USER = /<@(UB\d+[XP]\d{4})>/;

/** Whose request a Web API call answers: an ephemeral names its user; the plan message names its requester. */
function addresseeOf(call: FakeCall, channel: string): { user: string; ephemeral: boolean; text: string } | undefined {
  if (call.outcome !== 'ok') return undefined;
  const text = typeof call.args.text === 'string' ? call.args.text : '';
  if (call.method === 'chat.postEphemeral' && typeof call.args.user === 'string') return { user: call.args.user, ephemeral: true, text };
  if (call.method === 'chat.postMessage' && call.args.channel === channel && call.args.thread_ts === undefined) {
    const m = BENCH_USER.exec(text) ?? BENCH_USER.exec(JSON.stringify(call.args.blocks ?? []));
    if (m) return { user: m[1], ephemeral: false, text };
  }
  return undefined;
}

interface BurstContext {
  fake: FakeSlackApi;
  eventsUrl: URL;
  secret: string;
  idle: () => Promise<void>;
  channel: string;
}

function prepare(ctx: BurstContext, user: string, command: BenchCommand): PreparedRequest {
  const { fake, channel, secret } = ctx;
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: DEFAULT_DIRECTORY.teamId,
    team_domain: 'sandbox',
    channel_id: channel,
    channel_name: DEFAULT_DIRECTORY.channel.name,
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/xsupgrade',
    text: command === 'help' ? 'help' : `${command} ${POOL}`,
    api_app_id: 'A0XSUPGRADE',
    is_enterprise_install: 'false',
    response_url: fake.createResponseUrl({ channel, user }),
    trigger_id: fake.issueTrigger(user),
  }).toString();
  // Bolt accepts a request timestamp up to 5 minutes old: prepared up front, the burst measures the app only
  const ts = Math.floor(Date.now() / 1000);
  return { user, body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(secret, body, ts) } };
}

const notAcked = (r: SentRequest) => `not acknowledged: ${r.error ?? `HTTP ${r.status}`}`;

function rowOf(command: BenchCommand, sent: SentRequest[], answeredAt: Map<string, number>, failures: Map<string, string>, during?: BenchCommand): SlackBurstRow {
  const sentAt = new Map(sent.map((r) => [r.user, r.sentAt]));
  const answered = [...answeredAt].filter(([user]) => sentAt.has(user));
  const failed = [...failures].filter(([user]) => sentAt.has(user));
  for (const r of sent) if (r.status !== 200 && !failures.has(r.user)) failed.push([r.user, notAcked(r)]);
  const first = Math.min(...sent.map((r) => r.sentAt));
  const last = Math.max(...sent.map((r) => r.sentAt + r.ackMs), ...answered.map(([, at]) => at));
  return {
    command,
    during,
    requests: sent.length,
    acked: sent.filter((r) => r.status === 200).length,
    ack: summarise(sent.map((r) => r.ackMs)),
    ackSamplesMs: sent.filter((r) => r.status === 200).map((r) => r.ackMs),
    answered: answered.length,
    answer: summarise(answered.map(([user, at]) => at - sentAt.get(user)!)),
    failed: failed.length,
    failures: [...new Set(failed.map(([, text]) => text))].slice(0, 3),
    burstMs: sent.length ? last - first : 0,
    apiCalls: {},
  };
}

/**
 * One burst of `n` identical commands sent at once. During a plan burst, status probes are sent one every
 * `probeEveryMs` until every plan is answered: their ack latency is what a user typing a command meanwhile sees.
 */
async function burst(
  ctx: BurstContext,
  index: number,
  command: BenchCommand,
  n: number,
  probe: { everyMs: number; max: number; command: BenchCommand },
  timeoutMs: number,
): Promise<SlackBurstRow[]> {
  const { fake } = ctx;
  const commandOf = new Map<string, BenchCommand>();
  const answeredAt = new Map<string, number>();
  const failures = new Map<string, string>();
  const callsBefore = fake.calls.length;
  let settle!: () => void;
  const burstSettled = new Promise<void>((r) => (settle = r));
  let burstDone = 0;
  const onCall = (call: FakeCall) => {
    const a = addresseeOf(call, ctx.channel);
    const cmd = a && commandOf.get(a.user);
    if (!a || !cmd || answeredAt.has(a.user) || failures.has(a.user)) return;
    // a plan is answered in the channel; an ephemeral to a plan requester is a refusal or an error
    if (cmd === 'plan' && a.ephemeral) failures.set(a.user, a.text);
    else answeredAt.set(a.user, now());
    if (!a.user.includes('P') && ++burstDone === n) settle();
  };
  fake.on('call', onCall);

  const requests = Array.from({ length: n }, (_, i) => {
    const user = benchUser(index, i);
    commandOf.set(user, command);
    return prepare(ctx, user, command);
  });
  const probes = command === 'plan' && probe.everyMs > 0
    ? Array.from({ length: probe.max }, (_, i) => {
        const user = benchUser(index, i, true);
        commandOf.set(user, probe.command);
        return prepare(ctx, user, probe.command);
      })
    : [];

  const load = startLoad(ctx.eventsUrl, requests, probes, probe.everyMs);
  try {
    const sent = await load.burst;
    // a request not acknowledged (Bolt answers 404 when ack() did not come within its 3 s) is counted, not retried
    for (const r of sent.filter((x) => x.status !== 200)) {
      if (answeredAt.has(r.user) || failures.has(r.user)) continue;
      failures.set(r.user, notAcked(r));
      if (++burstDone === n) settle();
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([burstSettled.then(() => 'ok' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`${command} burst: ${burstDone} of ${n} answered within ${timeoutMs} ms; the others got no answer`);
    const sentProbes = await load.stop();
    // help is answered in the ack itself
    if (probe.command === 'help') for (const r of sentProbes) if (r.status === 200) answeredAt.set(r.user, r.sentAt + r.ackMs);
    await ctx.idle(); // the probes' replies and the plans' thread parts, so the next burst starts from a quiet app
    const main = rowOf(command, sent, answeredAt, failures);
    for (const c of fake.calls.slice(callsBefore)) main.apiCalls[c.method] = (main.apiCalls[c.method] ?? 0) + 1;
    return sentProbes.length > 0 ? [main, rowOf(probe.command, sentProbes, answeredAt, failures, command)] : [main];
  } finally {
    await load.stop().catch(() => undefined);
    fake.off('call', onCall as (...args: never[]) => void);
  }
}

export async function benchSlack(opts: SlackBenchOptions = {}): Promise<SlackBenchResult> {
  const hosts = opts.hosts ?? 16;
  // 10, not 50: one snapshot of 16×50 costs ~2 s of XML-RPC parsing in the bot, so 100 concurrent plans would take ~4 min
  const vmsPerHost = opts.vmsPerHost ?? 10;
  const n = opts.concurrency ?? 100;
  const probe = { everyMs: opts.probeEveryMs ?? 250, max: opts.maxProbes ?? 400, command: opts.probeCommand ?? 'status' };
  const bursts = opts.bursts ?? ['plan', 'status'];
  const minIntervalMs = opts.minIntervalMs ?? 0;
  const simModule = compiledSimModule();
  const where = opts.simulator ?? (simModule ? 'worker' : 'in-process');
  if (where !== 'in-process' && !simModule) throw new Error(`simulator: "${where}" needs the compiled simulator (run from dist/ after npm run build)`);

  const scenario = generateScenario({ hosts, vmsPerHost, seed: 1, name: POOL });
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const sim =
      where === 'worker' ? await startInWorker(scenario, simModule!) : where === 'child-process' ? await startInChildProcess(scenario, simModule!, undefined, 19) : await startInProcess(scenario);
    cleanups.push(() => sim.stop());

    const botToken = `xoxb-bench-${randomBytes(8).toString('hex')}`;
    const secret = randomBytes(16).toString('hex');
    // the workspace has one member per request (an ephemeral reply goes to members of the channel only)
    const users = bursts.flatMap((command, b) => [
      ...Array.from({ length: n }, (_u, i) => benchUser(b + 1, i)),
      ...(command === 'plan' && probe.everyMs > 0 ? Array.from({ length: probe.max }, (_u, i) => benchUser(b + 1, i, true)) : []),
    ]);
    const directory = { ...DEFAULT_DIRECTORY, users: [...DEFAULT_DIRECTORY.users, ...users.map((id) => ({ id, name: id.toLowerCase(), realName: `Bench user ${id}`, role: 'requester' }))] };
    const fake = await startFakeSlackApi({ token: botToken, directory });
    cleanups.push(() => fake.stop());
    const store = await openStore({ path: ':memory:' });
    cleanups.push(() => store.close());

    const pools = [poolConfig(sim, scenario)];
    // the core needs the notifier and the Slack app needs the core: forward until the app exists
    let notifier: Notifier | undefined;
    const forward = new Proxy({} as Notifier, {
      get: (_t, prop: string) => async (...args: unknown[]) => {
        const target = notifier as unknown as Record<string, (...a: unknown[]) => Promise<void>> | undefined;
        if (target && typeof target[prop] === 'function') await target[prop](...args);
      },
    });
    const core = await createCore({
      pools,
      store,
      notifier: forward,
      clock: systemClock,
      logger: silentLogger,
      env: { [PASSWORD_ENV]: sim.password },
      ownerId: 'bench-slack',
      paths: loadUpgradePaths(projectFile('manifests/upgrade-paths.yaml')),
    });
    cleanups.push(() => core.shutdown());
    const slack = createSlackApp({
      core,
      pools,
      settings: { mode: 'http', botToken, signingSecret: secret, port: 0, host: '127.0.0.1', slackApiUrl: fake.url },
      logger: silentLogger,
      clock: unrefClock,
      audit: (e) => store.appendAudit(e),
      minIntervalMs,
    });
    notifier = slack.notifier;
    const { port } = await slack.start();
    cleanups.push(() => slack.stop());

    const ctx: BurstContext = { fake, eventsUrl: new URL(`http://127.0.0.1:${port}${EVENTS_PATH}`), secret, idle: () => slack.idle(), channel: DEFAULT_DIRECTORY.channel.id };
    const rows: SlackBurstRow[] = [];
    for (const [i, command] of bursts.entries()) rows.push(...(await burst(ctx, i + 1, command, n, probe, opts.burstTimeoutMs ?? 120_000)));

    const result: SlackBenchResult = {
      hosts,
      vms: scenario.vms.length,
      runningVms: scenario.vms.filter((v) => v.power === 'Running').length,
      simulator: where,
      minIntervalMs,
      probeEveryMs: probe.everyMs,
      rows,
    };
    if (opts.print !== false) console.log(formatSlackBench(result));
    return result;
  } finally {
    await cleanup();
  }
}

/** How a bench's table header says where the simulator ran. */
export function simulatorPlace(place: SimulatorPlace): string {
  if (place === 'worker') return 'in a worker thread';
  if (place === 'child-process') return 'in a process of its own at nice 19';
  return 'in-process';
}

export function formatSlackBench(r: SlackBenchResult): string {
  const table = markdownTable(
    ['command', 'requests', 'acked (HTTP 200)', 'ack p50', 'ack p99', 'ack max', 'answered', 'answer p50', 'answer p99', 'answer max', 'error replies', 'whole burst'],
    r.rows.map((row) => [
      `/xsupgrade ${row.command === 'help' ? 'help' : `${row.command} ${POOL}`}${row.during ? ` (one every ${r.probeEveryMs} ms during the ${row.during} burst)` : ''}`,
      row.requests,
      row.acked,
      ms(row.ack.p50Ms),
      ms(row.ack.p99Ms),
      ms(row.ack.maxMs),
      row.answered,
      ms(row.answer.p50Ms),
      ms(row.answer.p99Ms),
      ms(row.answer.maxMs),
      row.failed,
      ms(row.burstMs),
    ]),
  );
  const failures = r.rows.flatMap((row) => row.failures.map((f) => `  ${row.command}: ${f}`));
  return [
    `Slack: slash-command ack latency, ${r.hosts}-host pool (${r.vms} VMs, ${r.runningVms} running), simulator ${simulatorPlace(r.simulator)}, outbox spacing ${r.minIntervalMs} ms`,
    'answer = plan message posted to the channel (plan) / ephemeral reply posted (status), both at the fake Web API',
    '',
    table,
    ...(failures.length ? ['', 'error replies:', ...failures] : []),
  ].join('\n');
}

if (require.main === module) {
  benchSlack().catch((e) => {
    console.error(`bench/slack: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
