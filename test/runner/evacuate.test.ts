/**
 * The evacuate step when the live pool no longer fits the plan: the planned moves are checked, and recomputed,
 * with the planner's own placement rules on a fresh snapshot (R2.5 storage visibility, R2.2 memory, R3.4), and a
 * VM that fits nowhere fails the step by name before any migration (never a blind one).
 */
import type { Migration, PlanStep } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { XenApiError } from '../../src/xenapi';
import { StepFailure } from '../../src/runner/errors';
import type { PoolClient, StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createEvacuateStep } from '../../src/runner/steps/evacuate';
import { FakePool, type FakeHost, type FakeVm } from './fake-pool';
import { fastClock, makePlan, makeRun, recordingNotifier } from './helpers';

const H = FakePool.hostRef;
const V = FakePool.vmRef;

function setup(hosts: FakeHost[], vms: FakeVm[], planned: Array<[vm: string, to: string]>, refuse: Record<string, string> = {}) {
  const pool = new FakePool(hosts, vms);
  const clock = fastClock();
  const client = {
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      const w = /^(\w+)\.get_all_records_where$/.exec(method);
      if (w) return pool.where(w[1]!, String(params[0])) as T;
      // each VM is read again just before its migration (a migration already in flight is followed, R3.7)
      if (method === 'VM.get_record') return (pool.wire('VM') as Record<string, unknown>)[String(params[0])] as T;
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    callAsync: async (method: string) => {
      throw new Error(`unexpected callAsync ${method}`);
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
    masterAddress: '10.0.0.1',
  } satisfies PoolClient;
  const deps = {
    client,
    clock,
    logger: silentLogger,
    notifier: recordingNotifier(),
    store: undefined as never,
    config: { migrationConcurrency: 2 } as StepDeps['config'],
  } satisfies StepDeps;

  const plan = makePlan(['h1', 'h2', 'h3']);
  const migrations: Migration[] = planned.map(([vm, to]) => ({ vm: V(vm), vmName: vm, from: H('h1'), to: H(to), toName: to }));
  for (const s of plan.steps) if (s.host) s.host = H(s.hostName!);
  for (const hp of plan.hosts) hp.host = H(hp.name);
  const planStep = plan.steps.find((s) => s.id === 'h1:evacuate')! as PlanStep;
  planStep.migrations = migrations;
  plan.hosts[0]!.migrations = migrations;
  const run = makeRun(plan);
  const said: string[] = [];
  const data: Record<string, unknown> = {};
  const ctx: StepContext = {
    run,
    step: { ...run.steps.find((s) => s.id === 'h1:evacuate')!, data },
    planStep,
    hostPlan: plan.hosts[0],
    log: silentLogger,
    signal: new AbortController().signal,
    assertLive: async () => undefined,
    saveData: async (patch) => void Object.assign(data, patch),
    act: async <T>(method: string, params: unknown[]): Promise<T> => {
      if (method !== 'VM.pool_migrate') throw new Error(`unexpected side effect ${method}`);
      const code = refuse[params[0] as string];
      if (code) throw new XenApiError(code, [params[0] as string], 'Async.VM.pool_migrate', '10.0.0.1');
      pool.migrate(params[0] as string, params[1] as string);
      return '' as T;
    },
    audit: async () => undefined,
    say: async (text) => void said.push(text),
    checkpoint: async () => undefined,
    resolveHost: (ref) => ref,
    dataOf: () => undefined,
  };
  return { pool, ctx, said, data, step: createEvacuateStep(deps) };
}

const disabledSource: FakeHost = { name: 'h1', master: true, enabled: false, srs: ['nfs-a', 'nfs-b'] };

describe('evacuate on a live pool that no longer fits the plan', () => {
  it('keeps the planned moves when they still pass the placement rules (no recomputation, no message)', async () => {
    const t = setup(
      [disabledSource, { name: 'h2', srs: ['nfs-a', 'nfs-b'] }, { name: 'h3', srs: ['nfs-a', 'nfs-b'] }],
      [{ name: 'vm-b', host: 'h1', memGiB: 4, disks: ['nfs-b'] }],
      [['vm-b', 'h3']],
    );
    const out = await t.step.execute(t.ctx);
    expect(out.status).toBe('done');
    expect(t.pool.migrations).toEqual([{ vm: 'vm-b', to: 'h3' }]);
    expect(t.said).toEqual([]);
    expect(t.data.replanned).toBeUndefined();
  });

  it('R2.5: the recomputation avoids a host that cannot see the VM\'s SR, even with the most free memory', async () => {
    // the plan sent vm-b to h2; since then h2 lost its PBD to nfs-b. h2 is the emptiest host: a placement that
    // ignored storage would pick it again and xapi would refuse (VM_REQUIRES_SR) mid-evacuation.
    const t = setup(
      [disabledSource, { name: 'h2', memGiB: 128, srs: ['nfs-a'] }, { name: 'h3', memGiB: 32, srs: ['nfs-a', 'nfs-b'] }],
      [
        { name: 'vm-b', host: 'h1', memGiB: 4, disks: ['nfs-b'] },
        { name: 'vm-a', host: 'h1', memGiB: 2, disks: ['nfs-a'] },
      ],
      [
        ['vm-b', 'h2'],
        ['vm-a', 'h2'],
      ],
    );
    const out = await t.step.execute(t.ctx);
    expect(out.status).toBe('done');
    expect(t.pool.migrations).toContainEqual({ vm: 'vm-b', to: 'h3' });
    expect(t.pool.migrations).toContainEqual({ vm: 'vm-a', to: 'h2' });
    expect(t.pool.migrations).toHaveLength(2);
    expect(t.said.join('\n')).toMatch(/vm-b: planned target h2 does not see SR nfs-b of its disks \(R2\.5\)/);
    expect(t.said.join('\n')).toMatch(/placement recomputed.*vm-b → h3/);
    expect(t.data.replanned).toMatchObject({ reasons: [expect.stringMatching(/R2\.5/)] });
  });

  it('R2.2: when no host can take a VM the step fails naming it and why, and migrates nothing', async () => {
    const t = setup(
      [{ ...disabledSource, memGiB: 128 }, { name: 'h2', memGiB: 16, srs: ['nfs-a', 'nfs-b'] }, { name: 'h3', memGiB: 16, srs: ['nfs-a', 'nfs-b'] }],
      [
        { name: 'vm-small', host: 'h1', memGiB: 2, disks: ['nfs-a'] },
        { name: 'vm-big', host: 'h1', memGiB: 48, disks: ['nfs-a'] },
      ],
      [['vm-small', 'h2']],
    );
    const err = await t.step.execute(t.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailure);
    const f = err as StepFailure;
    expect(f.message).toMatch(/h1 cannot be evacuated: no host can receive vm-big now/);
    expect(f.message).toMatch(/vm-big: R2\.2 needs 48\.0 GiB, the most free on an allowed host is 15\.0 GiB/);
    expect(f.message).toMatch(/nothing was migrated/);
    expect(f.code).toBe('NO_PLACEMENT');
    expect(f.observed).toContain('vm-big is on h1 but not in the plan');
    expect(t.pool.migrations).toEqual([]);
  });

  it('R2.5: a VM whose SR no other host sees fails the step by name instead of a blind migration', async () => {
    const t = setup(
      [disabledSource, { name: 'h2', srs: ['nfs-a'] }, { name: 'h3', srs: ['nfs-a'] }],
      [{ name: 'vm-b', host: 'h1', memGiB: 4, disks: ['nfs-b'] }],
      [['vm-b', 'h2']],
    );
    const err = (await t.step.execute(t.ctx).catch((e: unknown) => e)) as StepFailure;
    expect(err.message).toMatch(/no host can receive vm-b now \(vm-b: R2\.5 no allowed host has the SRs of its disks attached\)/);
    expect(t.pool.migrations).toEqual([]);
  });

  it('R3.4: never recomputes a move onto a host older than the source', async () => {
    const t = setup(
      [
        { ...disabledSource, product: '7.6.0', platform: '2.7.0' },
        { name: 'h2', srs: ['nfs-a'], memGiB: 128 },
        { name: 'h3', product: '7.6.0', platform: '2.7.0', srs: ['nfs-a'], live: false },
      ],
      [{ name: 'vm-a', host: 'h1', memGiB: 4, disks: ['nfs-a'] }],
      [['vm-a', 'h3']],
    );
    const err = (await t.step.execute(t.ctx).catch((e: unknown) => e)) as StepFailure;
    expect(err.observed).toContain('vm-a: planned target h3 is not live');
    expect(err.message).toMatch(/vm-a: R3\.4 no enabled host on the same or a newer version can receive it/);
    expect(t.pool.migrations).toEqual([]);
  });

  it('a refused migration fails the step with the VM, its target and the XenAPI code; the others are recorded as moved', async () => {
    const t = setup(
      [disabledSource, { name: 'h2', srs: ['nfs-a'] }, { name: 'h3', srs: ['nfs-a'] }],
      [
        { name: 'vm-a', host: 'h1', memGiB: 2, disks: ['nfs-a'] },
        { name: 'vm-c', host: 'h1', memGiB: 2, disks: ['nfs-a'] },
      ],
      [
        ['vm-a', 'h2'],
        ['vm-c', 'h3'],
      ],
      { [V('vm-c')]: 'VM_MIGRATE_FAILED' },
    );
    const err = (await t.step.execute(t.ctx).catch((e: unknown) => e)) as StepFailure;
    expect(err.message).toMatch(/^1 of 2 migration\(s\) off h1 failed; first: vm-c: VM_MIGRATE_FAILED/);
    expect(err).toMatchObject({ code: 'VM_MIGRATE_FAILED', params: [V('vm-c')] });
    expect(err.observed).toEqual([expect.stringMatching(/^vm-c → h3: VM_MIGRATE_FAILED/)]);
    expect(t.pool.migrations).toEqual([{ vm: 'vm-a', to: 'h2' }]);
    expect(t.data.moved).toEqual({ [V('vm-a')]: { name: 'vm-a', to: H('h2'), toName: 'h2' } });
  });

  it('R3.7: a VM paused since the plan fails the step by name with the way out, before any migration (xapi migrates only Running VMs)', async () => {
    const t = setup(
      [disabledSource, { name: 'h2', srs: ['nfs-a'] }, { name: 'h3', srs: ['nfs-a'] }],
      [
        { name: 'vm-a', host: 'h1', memGiB: 2, disks: ['nfs-a'] },
        { name: 'vm-p', host: 'h1', memGiB: 2, disks: ['nfs-a'], power: 'Paused' },
      ],
      [
        ['vm-a', 'h2'],
        ['vm-p', 'h3'],
      ],
      { [V('vm-p')]: 'VM_BAD_POWER_STATE' },
    );
    const err = (await t.step.execute(t.ctx).catch((e: unknown) => e)) as StepFailure;
    expect(err).toBeInstanceOf(StepFailure);
    expect(err.message).toMatch(/vm-p is Paused on h1: xapi migrates only Running VMs/);
    expect(err.message).toMatch(/nothing was migrated/);
    expect(err.message).toMatch(/Unpause it \(xe vm-unpause\) or shut it down/);
    expect(err.observed).toEqual(['vm-p: Paused on h1']);
    expect(t.pool.migrations).toEqual([]);
  });
});
