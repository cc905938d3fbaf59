/**
 * Restore after abort (src/core/restore.ts): its closing write (its record, the end audit, its audit record, one
 * transaction) when the bot's own store does not answer. Restore has already put VMs back on the pool by then:
 * - a store error is tried again (bounded), reading back first whether the store already shows the close (a lost
 *   answer may have committed it), so the audit record is never appended twice;
 * - a store that stays unavailable: the run's thread is still told what Restore did on the pool and that the bot could
 *   not record it (header and status may be stale), and the click gets a clear error; never a claim it was recorded.
 */
import { restoreRun, type RestoreEnv } from '../../src/core/restore';
import type { Actor, Run } from '../../src/domain/types';
import { auditor } from '../../src/runner/audit';
import type { PoolClient } from '../../src/runner/ports';
import { restoreOffer } from '../../src/runner/restore';
import { openStore, type Store } from '../../src/store';
import { fastClock, recordingNotifier } from '../runner/helpers';
import { abortedAtH2StopVms, H2, poolReads } from '../runner/restore-fixture';
import { failingStore } from '../runner/store-failures';

const VM1 = 'OpaqueRef:vm1';
const APPROVER: Actor = { userId: 'UAPPROVER1', source: 'slack' };

/** h1, h2 live and enabled, HA off; vm1 (stopped by the run on h2) Halted. What Restore sends is recorded. */
function pool() {
  const vm = { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' };
  const sent: string[] = [];
  const record = () => ({ uuid: 'u-vm1', name_label: 'vm1', ...vm, current_operations: {} });
  const client: PoolClient = {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: poolReads(() => ({ [VM1]: record() })),
    callAsync: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      sent.push(`${method} ${String(params[0])}`);
      if (method === 'VM.start_on') Object.assign(vm, { power_state: 'Running', resident_on: params[1] });
      return '' as T;
    },
    waitForTask: async <T>(): Promise<T> => '' as T,
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  };
  return { client, vm, sent };
}

/** the run's closing write: Restore's record leaves "running" (its progress writes keep it running) */
const closing = (_before: Run, after: Run) => !!after.restore && after.restore.state !== 'running';

/**
 * The aborted run (h2:stop-vms shut vm1 down) in a store whose closing writes of Restore fail `fails` times ('lost':
 * nothing written; 'after-commit': written, the answer lost), and Restore's env on it.
 */
async function setup(fails: number, how: 'lost' | 'after-commit') {
  const clock = fastClock();
  const inner: Store = await openStore({ path: ':memory:', clock });
  const run = abortedAtH2StopVms({ [VM1]: { name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true } }, 'done');
  expect(restoreOffer(run)?.vms.map((v) => v.name)).toEqual(['vm1']);
  await inner.createRun(run);
  let left = fails;
  const { store, failures } = failingStore(inner, { update: (b, a) => closing(b, a) && left-- > 0 }, how);
  const w = pool();
  const notifier = recordingNotifier();
  const env: RestoreEnv = {
    store,
    clock,
    ownerId: 'restorer',
    leaseTtlMs: 20 * 60_000,
    forRun: async (id) => ({ ok: true, value: { run: (await store.getRun(id))! } }),
    client: () => w.client,
    audit: auditor(store, clock),
    refuse: async (_id, _actor, code, error) => ({ ok: false, code, error }),
    notify: (r, _what, fn) => void fn(notifier),
  };
  const closingAudits = async () => (await inner.listAudit(run.id)).filter((e) => e.kind === 'recovery' && e.message.startsWith(`Restore by ${APPROVER.userId}:`));
  const thread = () => notifier.calls.filter((c) => c.method === 'runEvent').map((c) => c.text ?? '');
  return { inner, run, env, w, notifier, failures, closingAudits, thread };
}

describe('Restore: its closing write when the store does not answer', () => {
  it('the store stays unavailable: the thread is told what Restore did on the pool and that it is not recorded; the click gets a clear error', async () => {
    const t = await setup(Infinity, 'lost');
    const res = await restoreRun(t.env, t.run.id, APPROVER);

    // it was done on the pool
    expect(t.w.sent).toEqual([`VM.start_on ${VM1}`]);
    expect(t.w.vm.power_state).toBe('Running');
    // tried again (bounded), never recorded
    expect(t.failures.count).toBeGreaterThan(1);
    const stored = (await t.inner.getRun(t.run.id))!;
    expect(stored.restore?.state).toBe('running');
    expect(stored.endAudit).toBeUndefined();
    expect(await t.closingAudits()).toEqual([]);

    // the click: an error that says what was done and that it was not recorded
    expect(res).toMatchObject({ ok: false, code: 'store-unavailable' });
    const error = res.ok ? '' : res.error;
    expect(error).toMatch(/vm1 (started|resumed) on h2/);
    expect(error).toMatch(/could not record it/);
    expect(error).toMatch(/store write failed \d+ times \(last: store error: connection terminated unexpectedly\)/);
    expect(error).not.toMatch(/(?<!not )recorded\b/);

    // the thread: what Restore did, and that the bot could not record it (header and status may be stale)
    const said = t.thread().pop()!;
    expect(said).toMatch(/^Restore by UAPPROVER1: vm1 (started|resumed) on h2/);
    expect(said).toMatch(/the bot could not record it/);
    expect(said).toMatch(/stale/);
    // no runUpdated: the stored run did not change
    expect(t.notifier.calls.filter((c) => c.method === 'runUpdated')).toEqual([]);
    // the lease is released all the same
    expect(await t.inner.getLease(t.run.pool)).toBeUndefined();
    await t.inner.close();
  });

  it('the answer to the closing write lost after it committed: read back, not written again (one audit record), and Restore says what it did', async () => {
    const t = await setup(1, 'after-commit');
    const res = await restoreRun(t.env, t.run.id, APPROVER);

    expect(res.ok).toBe(true);
    expect(t.failures.count).toBe(1);
    const stored = (await t.inner.getRun(t.run.id))!;
    expect(stored.restore).toMatchObject({ state: 'done', did: [expect.stringMatching(/vm1 (started|resumed) on h2/)] });
    expect(stored.endAudit).toBeDefined();
    expect(await t.closingAudits()).toHaveLength(1);
    expect(t.thread().pop()).toMatch(/^Restore by UAPPROVER1: vm1 (started|resumed) on h2/);
    expect(t.thread().join('\n')).not.toMatch(/could not record/);
    await t.inner.close();
  });

  it('the store refuses the closing write twice, then answers: it is written once, and Restore succeeds', async () => {
    const t = await setup(2, 'lost');
    const res = await restoreRun(t.env, t.run.id, APPROVER);

    expect(res.ok).toBe(true);
    expect(t.failures.count).toBe(2);
    const stored = (await t.inner.getRun(t.run.id))!;
    expect(stored.restore?.state).toBe('done');
    expect(res.ok && res.value.restore).toEqual(stored.restore);
    expect(await t.closingAudits()).toHaveLength(1);
    expect(t.notifier.calls.filter((c) => c.method === 'runUpdated')).toHaveLength(1);
    await t.inner.close();
  });
});
