/**
 * High-availability benchmark (issue 16), recorded in docs/benchmarks.md:
 * - the store's transaction latency on SQLite and PostgreSQL: a fenced run update (the runner's step transition),
 *   an audit append, a lease renewal, a run read; sequential, then two connections updating one run at once;
 * - failover time: a replica driving a run on the simulator is SIGKILLed; the time until another replica records
 *   its first step (the lease TTL bounds it: the lease must expire first, then the take-over sweep notices).
 * PostgreSQL: XSUPGRADE_BENCH_PG (an admin URL; a scratch database is created and dropped), default the local
 * cluster; without a reachable server the PostgreSQL rows say so and the rest runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { ScaledClock } from '../src/clock';
import type { PoolConfig } from '../src/config/pools';
import { parseScenario, startSimulator } from '../src/sim';
import { openStore, type Store } from '../src/store';
import type { Run } from '../src/domain/types';
import { markdownTable, ms, summarise } from './harness';
import { syntheticScenario } from './plan';

/** the compiled replica (also when this file runs from source, in the smoke test) */
const REPLICA = __filename.endsWith('.ts') ? join(__dirname, '../dist/bench/ha-replica.js') : join(__dirname, 'ha-replica.js');
const ADMIN_URL = process.env.XSUPGRADE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh database on the server of `adminUrl`, dropped by drop(); a string says why none could be made.
 * (Also the test suite's: test/ha/pg.ts.)
 */
export async function scratchDatabase(adminUrl = ADMIN_URL, prefix = 'xsupgrade_bench'): Promise<{ url: string; drop(): Promise<void> } | string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (e) {
    return `no PostgreSQL server reachable (${(e as Error).message}); set XSUPGRADE_BENCH_PG`;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

function sampleRun(id: string): Run {
  const plan = { id: 'bench-plan', pool: 'pool-a', executable: true, hosts: [], steps: [{ id: 's1', kind: 'backup' }], prechecks: [] };
  return {
    id, pool: 'pool-a', plan, planHash: 'bench-plan', requestedBy: 'U1', state: 'running',
    steps: [{ id: 's1', kind: 'backup', state: 'pending', attempts: 0 }], approvals: [], createdAt: 1, updatedAt: 1, revision: 0,
  } as unknown as Run;
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

export interface StoreLatencyRow {
  backend: string;
  op: string;
  p50Ms: number;
  p99Ms: number;
  note?: string;
}

async function storeLatency(backend: string, open: () => Promise<Store>, n: number): Promise<StoreLatencyRow[]> {
  const a = await open();
  const b = await open();
  try {
    await a.createRun(sampleRun('r1'));
    const lease = await a.acquireLease('pool-a', 'bench', 'r1', 60_000, Date.now());
    if (!lease.ok) throw new Error('lease refused');
    const fence = { pool: 'pool-a', owner: 'bench', token: lease.token };
    const rows: StoreLatencyRow[] = [];
    const add = (op: string, samples: number[]) => {
      const s = summarise(samples);
      rows.push({ backend, op, p50Ms: s.p50Ms, p99Ms: s.p99Ms });
    };
    add('fenced step transition (updateRun)', await timeEach(n, () => a.updateRun('r1', (r) => void (r.steps[0].attempts += 1), { fence })));
    add('fenced audit append', await timeEach(n, (i) => a.appendAudit({ at: i, runId: 'r1', kind: 'step', actor: 'bench', message: `e${i}` }, { fence })));
    add('lease renewal', await timeEach(n, () => a.renewLease('pool-a', 'bench', 60_000, Date.now(), lease.token)));
    add('run read (getRun)', await timeEach(n, () => a.getRun('r1')));
    // two replicas updating the same run at once: each update waits for (SQLite) or retries after (PostgreSQL) the other
    const both = await timeEach(n / 2, () => Promise.all([a.updateRun('r1', (r) => void r.approvals.push({ stepId: 'x', decision: 'held', by: 'a', at: 1 })), b.updateRun('r1', (r) => void r.approvals.push({ stepId: 'x', decision: 'held', by: 'b', at: 1 }))]));
    add('two connections, same run, at once (pair)', both);
    const run = (await b.getRun('r1'))!;
    if (run.approvals.length !== n) throw new Error(`lost updates: ${run.approvals.length} of ${n}`);
    return rows;
  } finally {
    await a.close();
    await b.close();
  }
}

interface ChildHandle {
  child: ChildProcess;
  exited: Promise<void>;
}

/** what the replicas printed besides READY (FAILED <step> …, FINISHED <state>), for a timeout's error */
const replicaLines: string[] = [];

function startReplica(env: NodeJS.ProcessEnv): Promise<ChildHandle> {
  const child = spawn(process.execPath, [REPLICA], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line !== 'READY') replicaLines.push(`${env.OWNER}: ${line}`);
      if (line === 'READY') resolve({ child, exited });
      else if (line.startsWith('ERROR')) reject(new Error(line));
    });
    void exited.then(() => reject(new Error('replica exited before it was ready')));
  });
}

export interface FailoverResult {
  leaseTtlMs: number;
  kills: Array<{ victim: string; successor: string; failoverMs: number; leaseLeftMs: number }>;
  runState: string;
}

async function failover(url: string, leaseTtlMs: number, kills: number): Promise<FailoverResult> {
  const input = syntheticScenario(kills + 1, 3);
  input.repositories = [{ url: 'http://repo.example.com/xenserver/7.6/', version: '7.6.0', platform: '2.7.0', build: 'release/lima/master/36' }];
  input.timings = { migrationSecondsPerGiB: 2, installSeconds: 600, bootSeconds: 60, xapiStartSeconds: 10, shutdownSeconds: 10 };
  const sim = await startSimulator(parseScenario(input, 'bench-ha'), { clock: new ScaledClock(100), http: true });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-bench-ha-'));
  const store = await openStore({ path: url });
  const children: ChildHandle[] = [];
  const pool: PoolConfig = {
    name: sim.name, masterUrl: sim.masterUrl, username: sim.username, passwordEnv: 'XS_BENCH_PASSWORD', tls: { mode: 'insecure-http' },
    target: '7.6', upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
    slack: { channel: 'CBENCH', approvers: { users: ['U0APPROVER'], groups: [] }, allowSelfApproval: false },
    returnPolicy: 'none', timezone: 'UTC', hostTimeoutMinutes: 240,
  } as PoolConfig;
  const env = (owner: string, mode: string) => ({ STATE_URL: url, POOL_JSON: JSON.stringify(pool), OWNER: owner, LEASE_TTL_MS: String(leaseTtlMs), MODE: mode, XS_BENCH_PASSWORD: sim.password, BACKUPS: join(dir, owner) });
  const byName = new Map<string, ChildHandle>();
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, realMs = 120_000): Promise<T> => {
    const deadline = Date.now() + realMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) {
        const run = (await store.listRuns())[0];
        const audit = run ? (await store.listAudit(run.id)).slice(-8).map((e) => `  ${e.kind} ${e.message}`) : [];
        const lease = await store.getLease(sim.name);
        throw new Error(
          `failover benchmark: timed out waiting for ${what}; run ${run ? `${run.id} ${run.state}` : 'not created'}, lease ${lease ? `${lease.owner} token ${lease.token}` : 'none'}\n` +
            `last audit records:\n${audit.join('\n')}\nreplicas said:\n${replicaLines.slice(-8).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    byName.set('replica-0', await startReplica(env('replica-0', 'start')));
    byName.set('replica-1', await startReplica(env('replica-1', 'follow')));
    children.push(...byName.values());
    const runId = (await until('the run', async () => (await store.listRuns())[0]))!.id;
    const result: FailoverResult = { leaseTtlMs, kills: [], runState: '' };
    for (let k = 0; k < kills; k++) {
      // the holder is at work: it sent a XenAPI call under its current lease and the run is not waiting at a gate
      // (a kill there would measure the approval, not the take-over)
      const lease = await until('the holder at work in a running step', async () => {
        const l = await store.getLease(sim.name);
        if (!l || (await store.getRun(runId))?.state !== 'running') return undefined;
        const audit = await store.listAudit(runId);
        return audit.some((e) => e.kind === 'xenapi' && e.detail?.replica === l.owner && e.detail?.token === l.token) ? l : undefined;
      });
      const victim = byName.get(lease.owner)!;
      const t0 = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      const replacement = `replica-${k + 2}`;
      const first = await until('the other replica\'s first step', async () =>
        (await store.listAudit(runId)).find((e) => e.at >= t0 && e.detail?.replica && e.detail.replica !== lease.owner && (e.kind === 'step' || e.kind === 'resume' || e.kind === 'xenapi')),
      );
      result.kills.push({ victim: lease.owner, successor: String(first.detail?.replica), failoverMs: first.at - t0, leaseLeftMs: lease.expiresAt - t0 });
      const h = await startReplica(env(replacement, 'follow'));
      byName.set(replacement, h);
      children.push(h);
    }
    const final = await until('the end of the run', async () => {
      const r = await store.getRun(runId);
      return r && ['done', 'failed', 'aborted'].includes(r.state) ? r : undefined;
    }, 300_000);
    result.runState = final.state;
    return result;
  } finally {
    for (const c of children) {
      c.child.kill('SIGKILL');
      await c.exited;
    }
    await store.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HaBenchResult {
  latency: StoreLatencyRow[];
  failover?: FailoverResult;
  skipped?: string;
}

export async function benchHa(opts: { n?: number; leaseTtlMs?: number; kills?: number } = {}): Promise<HaBenchResult> {
  const n = opts.n ?? 400;
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-bench-store-'));
  try {
    const latency = await storeLatency('sqlite', () => openStore({ path: join(dir, 'state.sqlite') }), n);
    const db = await scratchDatabase();
    if (typeof db === 'string') return { latency, skipped: db };
    try {
      latency.push(...(await storeLatency('postgres', () => openStore({ path: db.url }), n)));
      const { drop } = db;
      await drop();
      const db2 = await scratchDatabase();
      if (typeof db2 === 'string') return { latency, skipped: db2 };
      try {
        return { latency, failover: await failover(db2.url, opts.leaseTtlMs ?? 3000, opts.kills ?? 2) };
      } finally {
        await db2.drop();
      }
    } catch (e) {
      await db.drop().catch(() => undefined);
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatHaBench(r: HaBenchResult): string {
  const lines = [
    'store transaction latency (sequential; the pair row: two connections updating one run at once)',
    markdownTable(['backend', 'operation', 'p50', 'p99'], r.latency.map((x) => [x.backend, x.op, ms(x.p50Ms), ms(x.p99Ms)])),
  ];
  if (r.skipped) lines.push('', `postgres and failover: skipped: ${r.skipped}`);
  if (r.failover) {
    lines.push(
      '',
      `failover (lease TTL ${r.failover.leaseTtlMs} ms; holder SIGKILLed → the other replica's first step; run ${r.failover.runState})`,
      markdownTable(
        ['killed', 'took over', 'failover', 'lease left at the kill'],
        r.failover.kills.map((k) => [k.victim, k.successor, ms(k.failoverMs), ms(k.leaseLeftMs)]),
      ),
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  benchHa().then(
    (r) => console.log(formatHaBench(r)),
    (e: unknown) => {
      console.error(`bench ha: ${(e as Error).stack ?? (e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
