import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, buttonValue, isReadOnly, kill, startReplicaSet, until, type Replica, type ReplicaSet } from './replicas';

/**
 * Two `xsupgrade serve` replicas on one PostgreSQL database and one simulated pool (issue 16, Done when):
 * the lease holder is SIGKILLed mid-evacuation and again while a host installs, or SIGSTOPped past its lease;
 * the other replica finishes the run. Each replica reaches the pool through its own recording proxy, so every
 * XenAPI call is attributed. Assertions count outcomes, never time.
 */
jest.setTimeout(300_000);

const SCALE = 40;
const LEASE_TTL_SECONDS = 3;
const MIGRATE = /^(Async\.)?(VM\.pool_migrate|VM\.migrate_send|host\.evacuate)$/;

/** plan on one replica, Start on the other (any replica serves any request); the run's id */
async function planAndStart(set: ReplicaSet, planOn: Replica, startOn: Replica): Promise<string> {
  expect(await set.command(planOn, 'plan pool-h')).toBe(200);
  const planMsg = await until('the plan message', () => set.messages().find((m) => !m.ephemeralTo && buttonValue(m, ACTION.planStart)));
  expect(await set.click(startOn, ACTION.planStart, buttonValue(planMsg, ACTION.planStart)!, planMsg.ts, 'U0KENJI')).toBe(200);
  const run = await until('the run', async () => (await set.store.listRuns({ pool: 'pool-h' }))[0]);
  return run.id;
}

/**
 * Approves each gate as it is posted, alternating replicas (skipping dead or stopped ones), and calls `watch`
 * every 10 ms until the run ends; returns the final run.
 */
async function approveUntilEnd(set: ReplicaSet, runId: string, watch: () => Promise<void>, alive: () => Replica[]) {
  const clicked = new Set<string>();
  let turn = 0;
  return until(
    'the end of the run',
    async () => {
      await watch();
      const run = await set.store.getRun(runId);
      if (run && ['done', 'failed', 'aborted'].includes(run.state)) return run;
      const gate = set.messages().find((m) => buttonValue(m, ACTION.approve) && !clicked.has(m.ts));
      const live = alive();
      if (gate && live.length > 0) {
        clicked.add(gate.ts);
        const to = live[turn++ % live.length];
        expect(await set.click(to, ACTION.approve, buttonValue(gate, ACTION.approve)!, gate.ts)).toBe(200);
      }
      return undefined;
    },
    240_000,
  );
}

function expectPoolSafe(set: ReplicaSet, runningBefore: string[]): void {
  const stats = set.sim.stats();
  // every host shut down exactly once, never two down at once (R3.1)
  expect(stats.shutdowns).toEqual({ 'xh-1': 1, 'xh-2': 1, 'xh-3': 1 });
  expect(stats.maxHostsDownAtOnce).toBeLessThanOrEqual(1);
  const view = set.sim.inspect();
  expect(view.hosts.every((h) => h.productVersion === '7.6.0' && h.enabled)).toBe(true);
  // every VM accounted for: the running ones run (somewhere), the halted one is untouched
  expect(view.vms.filter((v) => v.powerState === 'Running').map((v) => v.name).sort()).toEqual(runningBefore);
  expect(view.vms.find((v) => v.name === 'idle-h3')?.powerState).toBe('Halted');
}

describe('two replicas, one database, one pool', () => {
  let set: ReplicaSet | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  it('SIGKILL of the lease holder mid-evacuation and again while a host installs: the other replica finishes safely', async () => {
    set = await startReplicaSet({ scale: SCALE, leaseTtlSeconds: LEASE_TTL_SECONDS });
    const s = set;
    const runningBefore = s.sim.inspect().vms.filter((v) => v.powerState === 'Running').map((v) => v.name).sort();
    const a = await s.start('replica-a');
    const b = await s.start('replica-b');
    const runId = await planAndStart(s, a, b);
    const dead = new Set<string>();
    const killed: Array<{ when: string; victim: string }> = [];
    let spare = 0;

    const watch = async () => {
      if (killed.length === 2) return;
      const holder = await s.holder();
      if (!holder || dead.has(holder.name)) return;
      const phase =
        killed.length === 0
          ? holder.calls.some((c) => MIGRATE.test(c.method)) && 'mid-evacuation'
          : s.sim.hosts().some((h) => h.power === 'installing') && 'while a host installs';
      if (!phase) return;
      dead.add(holder.name);
      killed.push({ when: phase, victim: holder.name });
      await kill(holder);
      // the supervisor (systemd, Kubernetes) starts a replacement; the surviving replica may win the lease first
      await s.start(`replica-spare-${++spare}`);
    };
    const alive = () => [...s.replicas.values()].filter((r) => !dead.has(r.name));
    const run = await approveUntilEnd(s, runId, watch, alive);

    expect(killed.map((k) => k.when)).toEqual(['mid-evacuation', 'while a host installs']);
    expect(run.state).toBe('done');
    expectPoolSafe(s, runningBefore);
    const audit = await s.store.listAudit(runId);
    // each death was followed by a take-over recorded in the audit log, naming who stopped
    const takeovers = audit.filter((e) => e.kind === 'lease' && /took over the lease/.test(e.message));
    expect(takeovers.map((e) => e.detail?.previousOwner)).toEqual(killed.map((k) => k.victim));
    // the fencing tokens only grow
    const tokens = takeovers.map((e) => Number(e.detail?.token));
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    // a host shutdown was sent once in total, by whichever replica held the lease at the time
    const shutdownCalls = [...s.replicas.values()].flatMap((r) => r.calls.filter((c) => /host\.(shutdown|reboot)$/.test(c.method)));
    expect(shutdownCalls.length).toBe(3);
  });

  it('SIGSTOP of the holder past its lease: the other takes over; after SIGCONT the stalled one writes nothing and changes nothing', async () => {
    set = await startReplicaSet({ scale: SCALE, leaseTtlSeconds: LEASE_TTL_SECONDS });
    const s = set;
    const runningBefore = s.sim.inspect().vms.filter((v) => v.powerState === 'Running').map((v) => v.name).sort();
    const a = await s.start('replica-a');
    const b = await s.start('replica-b');
    const runId = await planAndStart(s, b, a);
    let stalled: Replica | undefined;
    let staleToken = 0;
    let stoppedAt = 0;
    let resumedAt = 0;
    let callsAtResume = 0;
    const stopped = new Set<string>();

    const watch = async () => {
      if (resumedAt) return;
      if (!stalled) {
        const holder = await s.holder();
        if (!holder || !s.sim.hosts().some((h) => h.power === 'installing')) return;
        staleToken = (await s.store.getLease('pool-h'))!.token;
        stalled = holder;
        stopped.add(holder.name);
        stoppedAt = Date.now();
        holder.child.kill('SIGSTOP');
        return;
      }
      // the other replica took the lease over and acted on the pool since
      const lease = await s.store.getLease('pool-h');
      const other = [...s.replicas.values()].find((r) => r !== stalled)!;
      if (lease?.owner !== other.name || !other.calls.some((c) => !isReadOnly(c.method) && c.at > stoppedAt)) return;
      callsAtResume = stalled.calls.length;
      resumedAt = Date.now();
      stalled.child.kill('SIGCONT');
    };
    // the woken replica gets no clicks: what it does after SIGCONT is what its stale loop does
    const alive = () => [...s.replicas.values()].filter((r) => !stopped.has(r.name));
    const run = await approveUntilEnd(s, runId, watch, alive);

    expect(stalled).toBeDefined();
    expect(resumedAt).toBeGreaterThan(0);
    expect(run.state).toBe('done');
    expectPoolSafe(s, runningBefore);
    // the woken replica noticed it lost the lease …
    await until('the stalled replica to notice', () => /lost the pool lease|lease was taken over/.test(stalled!.stderr()));
    const audit = await s.store.listAudit(runId);
    // … persisted nothing under its old lease after it woke up (a record with a newer token would be a legitimate
    // new lease, e.g. an orphaned run adopted by its periodic sweep) …
    expect(audit.filter((e) => e.detail?.replica === stalled!.name && e.at >= resumedAt && e.detail?.token === staleToken)).toEqual([]);
    const relet = audit.find((e) => e.detail?.replica === stalled!.name && e.at >= resumedAt && Number(e.detail?.token) > staleToken)?.at ?? Infinity;
    // … and sent no state-changing XenAPI call until it held a new lease (if ever)
    const after = stalled!.calls.slice(callsAtResume).filter((c) => c.at < relet);
    expect(after.map((c) => c.method).filter((m) => !isReadOnly(m))).toEqual([]);
    expect(audit.some((e) => e.kind === 'lease' && e.detail?.previousOwner === stalled!.name)).toBe(true);
  });

  it('an abort typed on the other replica stops the holder at once (NOTIFY), not at its next lease renewal', async () => {
    // a long lease: its renewal (every 20 s) would only notice the abort after the host finished installing
    set = await startReplicaSet({ scale: SCALE, leaseTtlSeconds: 60 });
    const s = set;
    const a = await s.start('replica-a');
    const b = await s.start('replica-b');
    const runId = await planAndStart(s, a, b);
    let abortedWhileInstalling = false;
    let holder: Replica | undefined;
    const watch = async () => {
      if (holder) return;
      const h = await s.holder();
      if (!h || !s.sim.hosts().some((x) => x.power === 'installing')) return;
      holder = h;
      const other = [...s.replicas.values()].find((r) => r !== h)!;
      expect(await s.command(other, `abort ${runId}`, APPROVER)).toBe(200);
      await until('the holder to stop its step', () => /step interrupted/.test(h.stderr()), 30_000);
      abortedWhileInstalling = s.sim.hosts().some((x) => x.power === 'installing');
    };
    const run = await approveUntilEnd(s, runId, watch, () => [...s.replicas.values()]);
    expect(run.state).toBe('aborted');
    expect(holder).toBeDefined();
    expect(abortedWhileInstalling).toBe(true);
    // nothing was sent to the pool after the abort was stored but reads
    const abortedAt = run.endedAt!; // the instant the abort was stored (core.abort's compare-and-set)
    expect(holder!.calls.filter((c) => c.at > abortedAt && !isReadOnly(c.method)).map((c) => c.method)).toEqual([]);
  });

  it('the same approval clicked on both replicas at once takes effect once', async () => {
    set = await startReplicaSet({ scale: SCALE, leaseTtlSeconds: LEASE_TTL_SECONDS });
    const s = set;
    const a = await s.start('replica-a');
    const b = await s.start('replica-b');
    const runId = await planAndStart(s, a, b);
    const gate = await until('the first approval', () => s.messages().find((m) => buttonValue(m, ACTION.approve)));
    const value = buttonValue(gate, ACTION.approve)!;
    const statuses = await Promise.all([s.click(a, ACTION.approve, value, gate.ts), s.click(b, ACTION.approve, value, gate.ts)]);
    expect(statuses).toEqual([200, 200]);
    const run = await until('the decision', async () => {
      const r = await s.store.getRun(runId);
      return r && r.approvals.length > 0 && r;
    });
    // one approval recorded and audited; the other click was refused (audited) and said so to the clicker. Each
    // replica audits after its compare-and-set, so the loser's refusal may be audited before the winner's approval
    await until('the refusal of the second click', async () => (await s.store.listAudit(runId)).some((e) => e.kind === 'refused' && e.actor === APPROVER));
    await until('the approval audited', async () => (await s.store.listAudit(runId)).some((e) => e.kind === 'approval' && e.actor === APPROVER));
    const audit = await s.store.listAudit(runId);
    expect(run.approvals.filter((x) => x.decision === 'approved')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'approval' && e.actor === APPROVER)).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'refused' && e.actor === APPROVER)).toHaveLength(1);
    await until('the refusal shown to the approver', () => s.api.messages().some((m) => m.ephemeralTo === APPROVER));
    // the host behind the gate went down once, as one approval asked
    await until('the host behind the gate shut down', () => Object.keys(s.sim.stats().shutdowns).length >= 1);
    expect(Object.values(s.sim.stats().shutdowns).every((n) => n === 1)).toBe(true);
  });
});
