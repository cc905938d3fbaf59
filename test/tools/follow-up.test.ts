/**
 * The Tools follow-up through the simulator (R5.1, R5.3; issue 15): the checklist opens after the final hop from the
 * live VM_guest_metrics, is updated as guests report new Tools (bounded reads), reminds once per period — also across
 * a restart — until empty or dismissed, and says nothing while a host is below the final version.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock, type Clock } from '../../src/clock';
import type { PoolConfig } from '../../src/config/pools';
import type { Actor, Run } from '../../src/domain/types';
import { parseScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { createToolsFollowUp, type ToolsNotifier, type ToolsService } from '../../src/tools/follow-up';
import { XenApiClient } from '../../src/xenapi';
import { samplePlan, sampleRun } from '../store/fixtures/sample';
import { middleHopOf } from './chain';

const DAY = 86_400_000;
const CHECK = 10 * 60_000;
const T76 = { product: '7.6.0', platform: '2.7.0', label: 'XenServer 7.6' };
const APPROVER: Actor = { userId: 'UAPPROVER1', source: 'slack', channel: 'CPOOL', groups: [] };
const OTHER: Actor = { userId: 'UOTHER1', source: 'slack', channel: 'CPOOL', groups: [] };
const RUN_ID = 'pool-t-20261203-1';

/** time moves only when the test says so (src/clock.ts abstraction; never real time) */
class ManualClock implements Clock {
  readonly scale = 1;
  constructor(public t = Date.UTC(2026, 11, 3, 2, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  sleep(): Promise<void> {
    return Promise.resolve();
  }
}

function scenario(versions: string[] = ['7.6.0', '7.6.0']) {
  return parseScenario(
    {
      pool: { name: 'pool-t', password: 'pw-tools' },
      hosts: versions.map((v, i) => ({ name: `xs-t${i + 1}`, master: i === 0, productVersion: v, platformVersion: v === '7.6.0' ? '2.7.0' : '2.1.1' })),
      vms: [
        { name: 'app-1', host: 'xs-t1', tools: '7.1.0' },
        { name: 'app-2', host: 'xs-t2', tools: '7.1.0' },
        { name: 'db-1', host: 'xs-t2', tools: '7.6.0' },
        { name: 'no-agent', host: 'xs-t1', tools: null },
      ],
    },
    'tools-test',
  );
}

function poolConfig(sim: SimPool): PoolConfig {
  return {
    name: 'pool-t',
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: 'XS_SIM_PASSWORD',
    tls: sim.tls,
    target: '7.6',
    upgrade: { mode: 'manual' },
    slack: { channel: 'CPOOL', approvers: { users: [APPROVER.userId], groups: [] }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
    hostTimeoutMinutes: 60,
  } as PoolConfig;
}

interface Said {
  checklists: Array<{ first: boolean; run: Run }>;
  events: string[];
}

interface World {
  sim: SimPool;
  store: Store;
  clock: ManualClock;
  said: Said;
  svc: ToolsService;
  dir: string;
  storePath: string;
  client: XenApiClient;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function world(opts: { versions?: string[]; plan?: Partial<Run['plan']> } = {}): Promise<World> {
  const clock = new ManualClock();
  const sim = await startSimulator(scenario(opts.versions), { clock: new ScaledClock(1000), http: true });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-tools-'));
  const storePath = join(dir, 'state.sqlite');
  const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
  const said: Said = { checklists: [], events: [] };
  const notifier: ToolsNotifier = {
    toolsChecklist: async (run, first) => void said.checklists.push({ first, run }),
    runEvent: async (_run, text) => void said.events.push(text),
  };
  const pool = poolConfig(sim);
  const make = (store: Store) =>
    createToolsFollowUp({ store, clock, pools: [pool], notifier, client: (p) => (p === 'pool-t' ? client : undefined), settings: { remindEveryMs: DAY, checkEveryMs: CHECK } });
  let store = await openStore({ path: storePath, clock });
  await store.createRun(
    sampleRun(RUN_ID, {
      pool: 'pool-t',
      state: 'done',
      requestedBy: 'UREQUEST1',
      endedAt: clock.now(),
      plan: samplePlan({ pool: 'pool-t', target: T76, toolsUpgrade: ['app-1', 'app-2'], ...opts.plan }),
    }),
  );
  const w: World = {
    sim,
    store,
    clock,
    said,
    svc: make(store),
    dir,
    storePath,
    client,
    async restart() {
      await w.store.close();
      store = await openStore({ path: storePath, clock });
      w.store = store;
      w.svc = make(store);
    },
    async close() {
      await w.store.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

const callsOf = (sim: SimPool, m: string) => sim.stats().calls[m] ?? 0;

describe('Tools checklist follows VM_guest_metrics (R5.1)', () => {
  it('opens after the final hop from the live pool, then is updated in place as guests report new Tools, reading only the VMs left', async () => {
    const w = await world();
    try {
      const first = await w.svc.tick();
      expect(first.opened).toEqual([RUN_ID]);
      let run = (await w.store.getRun(RUN_ID))!;
      // db-1 already has 7.6; no-agent reports no drivers: neither is listed
      expect(run.toolsFollowUp!.pending.map((e) => [e.vm, e.current, e.needed])).toEqual([
        ['app-1', '7.1.0', '7.6.0'],
        ['app-2', '7.1.0', '7.6.0'],
      ]);
      expect(run.toolsFollowUp).toMatchObject({ needed: '7.6.0', version: 1, shownVersion: 1 });
      expect(w.said.checklists.map((c) => c.first)).toEqual([true]);

      // nothing changed and the check is not due: no read, no message
      const before = callsOf(w.sim, 'VM.get_by_uuid');
      await w.svc.tick();
      expect(callsOf(w.sim, 'VM.get_by_uuid')).toBe(before);
      expect(w.said.checklists).toHaveLength(1);

      // a guest installs the new Tools; the next check sees it and edits the same message
      w.sim.control.installGuestTools('app-1');
      w.clock.advance(CHECK);
      const allRecords = callsOf(w.sim, 'VM.get_all_records');
      const r2 = await w.svc.tick();
      expect(r2.updated).toEqual([RUN_ID]);
      run = (await w.store.getRun(RUN_ID))!;
      expect(run.toolsFollowUp!.pending.map((e) => e.vm)).toEqual(['app-2']);
      expect(run.toolsFollowUp!.done).toEqual(['app-1']);
      expect(w.said.checklists.map((c) => c.first)).toEqual([true, false]);
      expect(w.said.checklists[1].run.toolsFollowUp!.pending).toHaveLength(1);
      // bounded: the two VMs left were read one by one (3 calls each), never the whole VM table again
      expect(callsOf(w.sim, 'VM.get_by_uuid') - before).toBe(2);
      expect(callsOf(w.sim, 'VM_guest_metrics.get_PV_drivers_version')).toBe(2);
      expect(callsOf(w.sim, 'VM.get_all_records')).toBe(allRecords);

      w.sim.control.installGuestTools('app-2');
      w.clock.advance(CHECK);
      await w.svc.tick();
      run = (await w.store.getRun(RUN_ID))!;
      expect(run.toolsFollowUp).toMatchObject({ pending: [], done: ['app-1', 'app-2'], completedAt: w.clock.now() });
      expect(w.said.checklists).toHaveLength(3);
      // empty: no reminder ever, no more reads
      const reads = callsOf(w.sim, 'VM.get_by_uuid');
      w.clock.advance(2 * DAY);
      await w.svc.tick();
      expect(w.said.events).toEqual([]);
      expect(callsOf(w.sim, 'VM.get_by_uuid')).toBe(reads);
    } finally {
      await w.close();
    }
  });

  it('`tools <pool>` view: live list, unknown pool refused', async () => {
    const w = await world();
    try {
      const shown = await w.svc.show('pool-t');
      expect(shown).toMatchObject({ ok: true, value: { pool: 'pool-t', needed: '7.6.0' } });
      expect(shown.ok && shown.value.pending.map((e) => e.vm)).toEqual(['app-1', 'app-2']);
      expect(shown.ok && shown.value.runId).toBeUndefined(); // no checklist opened yet
      await w.svc.tick();
      const again = await w.svc.show('pool-t');
      expect(again.ok && again.value.runId).toBe(RUN_ID);
      expect(await w.svc.show('pool-zz')).toEqual({ ok: false, code: 'not-found', error: 'there is no pool "pool-zz" (configured: pool-t)' });
    } finally {
      await w.close();
    }
  });
});

describe('reminders and Dismiss', () => {
  it('one reminder per period, not repeated after a restart, none after Dismiss; Dismiss is for approvers on the current message only', async () => {
    const w = await world();
    try {
      await w.svc.tick();
      w.clock.advance(DAY - 1);
      await w.svc.tick();
      expect(w.said.events).toHaveLength(0);
      w.clock.advance(1);
      const r = await w.svc.tick();
      expect(r.reminded).toEqual([RUN_ID]);
      expect(w.said.events).toHaveLength(1);
      expect(w.said.events[0]).toMatch(/^Reminder \(R5\.1\): 2 VM\(s\) of pool-t still report XenServer Tools below 7\.6 \(every host runs it\): app-1, app-2\./);
      expect(w.said.events[0]).toMatch(/<@UAPPROVER1> can dismiss it/);
      await w.svc.tick();
      expect(w.said.events).toHaveLength(1);

      // a restart at the same instant: the claim is in the store, so the reminder is not sent again
      await w.restart();
      await w.svc.tick();
      expect(w.said.events).toHaveLength(1);

      const version = (await w.store.getRun(RUN_ID))!.toolsFollowUp!.version;
      // not an approver
      expect(await w.svc.dismiss(RUN_ID, version, OTHER)).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/UOTHER1.*not an approver of pool pool-t/) });
      // from another channel
      expect(await w.svc.dismiss(RUN_ID, version, { ...APPROVER, channel: 'CELSEWHERE' })).toMatchObject({ ok: false, code: 'forbidden' });
      // an older message's button
      expect(await w.svc.dismiss(RUN_ID, version - 1, APPROVER)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/changed since this message/) });
      expect(await w.svc.dismiss('pool-t-20261203-9', version, APPROVER)).toMatchObject({ ok: false, code: 'not-found' });
      expect((await w.store.getRun(RUN_ID))!.toolsFollowUp!.dismissed).toBeUndefined();
      const refusals = (await w.store.listAudit(RUN_ID)).filter((e) => e.kind === 'refused');
      expect(refusals).toHaveLength(3);

      const shownBefore = w.said.checklists.length;
      const ok = await w.svc.dismiss(RUN_ID, version, APPROVER);
      expect(ok.ok).toBe(true);
      expect(ok.ok && ok.value.toolsFollowUp!.dismissed).toEqual({ by: 'UAPPROVER1', at: w.clock.now() });
      // the message is edited (its button goes)
      expect(w.said.checklists.slice(shownBefore).map((c) => c.first)).toEqual([false]);
      // a second click on the same button
      expect(await w.svc.dismiss(RUN_ID, version, APPROVER)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/already dismissed by <@UAPPROVER1>/) });

      w.clock.advance(3 * DAY);
      await w.svc.tick();
      expect(w.said.events).toHaveLength(1);
    } finally {
      await w.close();
    }
  });

  it('the next period reminds again, after a fresh read (a guest upgraded meanwhile leaves the reminder)', async () => {
    const w = await world();
    try {
      await w.svc.tick();
      w.clock.advance(DAY);
      await w.svc.tick();
      w.sim.control.installGuestTools('app-2');
      w.clock.advance(DAY);
      await w.svc.tick();
      expect(w.said.events).toHaveLength(2);
      expect(w.said.events[1]).toMatch(/1 VM\(s\) of pool-t still report .*: app-1\./);
    } finally {
      await w.close();
    }
  });
});

describe('a newer run of the pool', () => {
  it('retires the older checklist: its message says so, no more reminders, Dismiss refused', async () => {
    const w = await world();
    try {
      await w.svc.tick();
      const newer = sampleRun('pool-t-20261204-1', { pool: 'pool-t', state: 'running', createdAt: w.clock.now() + 1000, plan: samplePlan({ pool: 'pool-t', target: T76 }) });
      await w.store.createRun(newer);
      w.clock.advance(DAY);
      const r = await w.svc.tick();
      expect(r.reminded).toEqual([]);
      const old = (await w.store.getRun(RUN_ID))!.toolsFollowUp!;
      expect(old.supersededBy).toBe('pool-t-20261204-1');
      expect(w.said.checklists.map((c) => c.first)).toEqual([true, false]);
      expect(w.said.checklists[1].run.toolsFollowUp!.supersededBy).toBe('pool-t-20261204-1');
      w.clock.advance(DAY);
      await w.svc.tick();
      expect(w.said.events).toEqual([]);
      expect(w.said.checklists).toHaveLength(2);
      expect(await w.svc.dismiss(RUN_ID, old.version, APPROVER)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/no longer followed/) });
    } finally {
      await w.close();
    }
  });
});

describe('R5.3: no Tools advice before the final version', () => {
  it('a middle hop (plan.finalTarget ≠ target): no checklist, no reminder, no read; `tools` refuses saying why', async () => {
    const w = await world({ plan: middleHopOf({ product: '7.6.0', platform: '2.7.0', label: 'XenServer 7.6' }, { product: '8.2.1', platform: '3.2.1', label: 'Citrix Hypervisor 8.2 CU1' }) });
    try {
      const r = await w.svc.tick();
      expect(r.opened).toEqual([]);
      w.clock.advance(2 * DAY);
      await w.svc.tick();
      expect((await w.store.getRun(RUN_ID))!.toolsFollowUp).toBeUndefined();
      expect(w.said).toEqual({ checklists: [], events: [] });
      expect(callsOf(w.sim, 'VM_guest_metrics.get_all_records')).toBe(0);
      expect(await w.svc.show('pool-t')).toEqual({
        ok: false,
        code: 'blocked',
        error: 'Tools advice waits until every host runs 8.2.1 (R5.3): xs-t1 still runs 7.6.0, xs-t2 still runs 7.6.0',
      });
    } finally {
      await w.close();
    }
  });

  it('a host still below the final version: the checklist does not open and `tools` names the host', async () => {
    const w = await world({ versions: ['7.6.0', '7.1.1'] });
    try {
      const r = await w.svc.tick();
      expect(r.opened).toEqual([]);
      expect(r.held).toEqual([{ runId: RUN_ID, reason: 'Tools advice waits until every host runs 7.6 (R5.3): xs-t2 still runs 7.1.1' }]);
      expect(w.said.checklists).toEqual([]);
      expect(callsOf(w.sim, 'VM_guest_metrics.get_all_records')).toBe(0);
      // read again only after the check period, not at every tick
      const hostReads = callsOf(w.sim, 'host.get_all_records');
      await w.svc.tick();
      expect(callsOf(w.sim, 'host.get_all_records')).toBe(hostReads);
      expect(await w.svc.show('pool-t')).toMatchObject({ ok: false, code: 'blocked', error: 'Tools advice waits until every host runs 7.6 (R5.3): xs-t2 still runs 7.1.1' });
    } finally {
      await w.close();
    }
  });
});
