import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { ScaledClock } from '../../src/clock';
import { startFakeSlackApi, type FakeMessage, type FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { BOT_TOKEN, sign, SIGNING_SECRET } from '../slack/helpers/harness';
import { createTestDatabase, type TestDatabase } from './pg';
import { isReadOnly, methodOf, type Wire } from './xenapi-calls';

/**
 * Several real `xsupgrade serve` processes (dist/src/cli.js) on one PostgreSQL database and one simulated pool,
 * for the failover, fencing and decision-race tests (issue 16). Each replica reaches the pool through its own
 * recording proxy, so that every XenAPI call is attributed to the replica that sent it; Slack requests are signed
 * and posted to whichever replica the test names; the fake Web API (in this process) receives what they send.
 */

export const CHANNEL = 'C0HAPOOL';
export const REQUESTER = 'U0KENJI';
export const APPROVER = 'U0MIKA';
const CLI = resolve(__dirname, '../../dist/src/cli.js');
const SCENARIO = resolve(__dirname, 'pool-h.yaml');

export interface XenApiCall {
  /** the XenAPI method (JSON-RPC or XML-RPC), else `http:<verb> <path>` */
  method: string;
  wire: Wire;
  /** Date.now() when the proxy received it */
  at: number;
}

export { isReadOnly };

/** An HTTP proxy to the simulator's master that records the XenAPI method of each call, in either wire format. */
async function startRecordingProxy(target: string, calls: XenApiCall[]): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      calls.push({ ...methodOf(req.method ?? 'GET', req.url ?? '/', body.toString('utf8')), at: Date.now() });
      const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        r.on('error', () => res.destroy());
      });
      // the master is down (rebooting): the replica sees what it would see without the proxy, a connection
      // failure — not an HTTP 502, which the client reads as "no JSON-RPC on this host" (wire.ts) and answers by
      // switching to XML-RPC, so the proxy would change what it observes
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  calls: XenApiCall[];
  stderr: () => string;
  exited: Promise<void>;
}

export interface ReplicaSet {
  db: TestDatabase;
  sim: SimPool;
  api: FakeSlackApi;
  store: Store;
  replicas: Map<string, Replica>;
  start(name: string): Promise<Replica>;
  /** the replica named in the pool's lease */
  holder(): Promise<Replica | undefined>;
  command(replica: Replica, text: string, user?: string): Promise<number>;
  click(replica: Replica, actionId: string, value: string, messageTs: string, user?: string): Promise<number>;
  messages(): FakeMessage[];
  close(): Promise<void>;
}

export async function startReplicaSet(opts: { scale: number; leaseTtlSeconds: number }): Promise<ReplicaSet> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-ha-'));
  const clock = new ScaledClock(opts.scale);
  // plain HTTP: each replica reaches the pool through a recording HTTP proxy
  const sim = await startSimulator(loadScenario(SCENARIO), { clock, http: true });
  const api = await startFakeSlackApi({ token: BOT_TOKEN });
  const store = await openStore({ path: db.url });
  const replicas = new Map<string, Replica>();
  const proxies: Array<{ close(): Promise<void> }> = [];

  async function start(name: string): Promise<Replica> {
    const calls: XenApiCall[] = [];
    const proxy = await startRecordingProxy(sim.masterUrl, calls);
    proxies.push(proxy);
    const pools = join(dir, `pools-${name}.yaml`);
    writeFileSync(
      pools,
      stringify({
        pools: [
          {
            name: sim.name,
            masterUrl: proxy.url,
            username: sim.username,
            passwordEnv: 'XS_HA_PASSWORD',
            tls: { mode: 'insecure-http' },
            target: '7.6',
            upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
            slack: { channel: CHANNEL, approvers: { users: [APPROVER] }, allowSelfApproval: false },
            returnPolicy: 'none',
            timezone: 'UTC',
            hostTimeoutMinutes: 240,
          },
        ],
      }),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: api.url,
      XSUPGRADE_HOST: '127.0.0.1',
      XSUPGRADE_PORT: '0',
      XSUPGRADE_POOLS: pools,
      XSUPGRADE_STATE: db.url,
      XSUPGRADE_BACKUPS: join(dir, `backups-${name}`),
      XSUPGRADE_OWNER: name,
      XSUPGRADE_LEASE_TTL_SECONDS: String(opts.leaseTtlSeconds),
      XSUPGRADE_POLL_MS: '500',
      XSUPGRADE_LOG_LEVEL: 'info',
      XS_HA_PASSWORD: sim.password,
    };
    const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const url = await new Promise<string>((res, rej) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        const m = /ready \(HTTP on (http:\/\/127\.0\.0\.1:\d+\/slack\/events)/.exec(line);
        if (m) res(m[1]);
      });
      void exited.then(() => rej(new Error(`replica ${name} exited before it was ready:\n${stderr.slice(-3000)}`)));
    });
    const replica: Replica = { name, child, url, calls, stderr: () => stderr, exited };
    replicas.set(name, replica);
    return replica;
  }

  async function post(replica: Replica, body: string): Promise<number> {
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(replica.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) },
      body,
    });
    await res.text();
    return res.status;
  }

  return {
    db,
    sim,
    api,
    store,
    replicas,
    start,
    async holder() {
      const lease = await store.getLease(sim.name);
      return lease ? replicas.get(lease.owner) : undefined;
    },
    command(replica, text, user = REQUESTER) {
      const body = new URLSearchParams({
        team_id: api.directory.teamId,
        channel_id: CHANNEL,
        channel_name: 'xs-upgrades',
        user_id: user,
        user_name: user.toLowerCase(),
        command: '/xsupgrade',
        text,
        api_app_id: 'A0XSUPGRADE',
        response_url: api.createResponseUrl({ channel: CHANNEL, user }),
        trigger_id: api.issueTrigger(user),
      }).toString();
      return post(replica, body);
    },
    click(replica, actionId, value, messageTs, user = APPROVER) {
      const payload = {
        type: 'block_actions',
        user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: api.directory.teamId },
        api_app_id: 'A0XSUPGRADE',
        container: { type: 'message', message_ts: messageTs, channel_id: CHANNEL, is_ephemeral: false },
        trigger_id: api.issueTrigger(user),
        team: { id: api.directory.teamId, domain: 'sandbox' },
        channel: { id: CHANNEL, name: 'xs-upgrades' },
        message: { type: 'message', ts: messageTs, text: 'message', blocks: [] },
        response_url: api.createResponseUrl({ channel: CHANNEL, user, messageTs }),
        actions: [{ type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1732500001.000200' }],
        state: { values: {} },
      };
      return post(replica, new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    },
    messages: () => api.messages(CHANNEL),
    async close() {
      // XSUPGRADE_HA_DUMP=<dir>: each replica's XenAPI calls and log, and the audit log, kept for a post-mortem
      const dump = process.env.XSUPGRADE_HA_DUMP;
      if (dump) {
        const stamp = Date.now();
        for (const r of replicas.values()) {
          writeFileSync(join(dump, `${stamp}-${r.name}.calls`), r.calls.map((c) => `${c.at} ${c.wire} ${c.method}`).join('\n'));
          writeFileSync(join(dump, `${stamp}-${r.name}.log`), r.stderr());
        }
        const runs = await store.listRuns({ pool: sim.name });
        writeFileSync(join(dump, `${stamp}-audit.json`), JSON.stringify(await Promise.all(runs.map((x) => store.listAudit(x.id))), null, 1));
      }
      for (const r of replicas.values()) {
        if (r.child.exitCode === null && r.child.signalCode === null) {
          r.child.kill('SIGCONT');
          r.child.kill('SIGKILL');
        }
        await r.exited;
      }
      for (const p of proxies) await p.close();
      await store.close();
      await api.stop();
      await sim.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls (real time, bounded) until `probe` returns a value; never asserts a duration. */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, realMs = 90_000): Promise<T> {
  const deadline = Date.now() + realMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export { buttonValue } from '../slack/e2e/helpers';

/** SIGKILL, and wait for the exit */
export async function kill(r: Replica): Promise<void> {
  r.child.kill('SIGKILL');
  await r.exited;
}
