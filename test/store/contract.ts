import { ConflictError, FencedError, NotFoundError, type Store } from '../../src/store';
import type { AuditEvent, Plan, Run } from '../../src/domain/types';
import { samplePlan, sampleRun } from './fixtures/sample';

/**
 * The store's contract (issue 16): ONE suite that every backend passes (SQLite file and memory in
 * test/store/store.test.ts, PostgreSQL in test/ha/store-postgres.test.ts). `open` gives a fresh, empty store whose
 * clock reads 5 000; `second` (when the backend has one) a second connection to the same database, as another
 * replica would have.
 */

/** A one-off window of `pool`, scheduled. */
const scheduleOf = (id: string, pool: string) => ({
  id,
  pool,
  whenText: '2026-11-25T22:00:00Z',
  timezone: 'UTC',
  window: { kind: 'once' as const, startAt: 10, endAt: 20 },
  approvedPlan: samplePlan(),
  createdBy: 'U1',
  createdAt: 1,
  updatedAt: 1,
  state: 'scheduled' as const,
  nextStartAt: 10,
});

export interface ContractBackend {
  open(): Promise<Store>;
  second?(): Promise<Store>;
  cleanup(): Promise<void>;
}

export function storeContract(name: string, backend: () => ContractBackend): void {
  describe(`store contract (${name})`, () => {
    let store: Store;
    let b: ContractBackend;
    const others: Store[] = [];
    beforeEach(async () => {
      b = backend();
      store = await b.open();
    });
    afterEach(async () => {
      for (const o of others.splice(0)) await o.close();
      await store.close();
      await b.cleanup();
    });
    /** a second replica on the same database, or the same store when the backend has no second connection */
    const replica = async (): Promise<Store> => {
      if (!b.second) return store;
      const o = await b.second();
      others.push(o);
      return o;
    };

    test('createRun refuses an existing id with ConflictError', async () => {
      await store.createRun(sampleRun('pool-a-20261125-1'));
      await expect(store.createRun(sampleRun('pool-a-20261125-1', { requestedBy: 'U2' }))).rejects.toThrow(ConflictError);
      expect((await store.getRun('pool-a-20261125-1'))?.requestedBy).toBe('U1');
    });

    test('updateRun increments revision, sets updatedAt from the clock, and returns the new run', async () => {
      await store.createRun(sampleRun('r1'));
      const a = await store.updateRun('r1', (r) => {
        r.state = 'paused';
      });
      const b = await store.updateRun('r1', (r) => {
        r.steps[0].state = 'done';
      });
      expect([a.revision, b.revision]).toEqual([1, 2]);
      expect(b.updatedAt).toBe(5_000);
      const read = await store.getRun('r1');
      expect(read).toMatchObject({ state: 'paused', revision: 2, steps: [{ state: 'done' }] });
    });

    test('updateRun with a stale expectedRevision is a CAS conflict and writes nothing', async () => {
      await store.createRun(sampleRun('r1'));
      const seen = (await store.getRun('r1'))!;
      await store.updateRun('r1', (r) => {
        r.state = 'paused';
      }, { expectedRevision: seen.revision });
      await expect(
        store.updateRun('r1', (r) => {
          r.state = 'aborted';
        }, { expectedRevision: seen.revision }),
      ).rejects.toThrow(ConflictError);
      expect((await store.getRun('r1'))).toMatchObject({ state: 'paused', revision: 1 });
    });

    test('a mutate that throws rolls back (nothing written, revision unchanged)', async () => {
      await store.createRun(sampleRun('r1'));
      await expect(
        store.updateRun('r1', (r) => {
          r.state = 'done';
          throw new ConflictError('gate already approved');
        }),
      ).rejects.toThrow('gate already approved');
      expect(await store.getRun('r1')).toMatchObject({ state: 'running', revision: 0 });
    });

    test('a decision and its audit event are written together or not at all (createRun / updateRun with audit)', async () => {
      const event = (runId: string, message: string, kind = 'approval'): AuditEvent => ({ at: 7, runId, kind: kind as AuditEvent['kind'], actor: 'U1', message });
      await store.createRun(sampleRun('r1'), { audit: event('r1', 'run r1 started by U1', 'state') });
      // the event is made of the run as changed
      await store.updateRun('r1', (r) => {
        r.state = 'paused';
      }, { audit: (r) => event('r1', `held by U1; the run is ${r.state}`) });
      expect((await store.listAudit('r1')).map((e) => e.message)).toEqual(['run r1 started by U1', 'held by U1; the run is paused']);

      // an event the store refuses (unknown kind, another run's) leaves the run as it was, and no event
      for (const bad of [(runId: string) => event(runId, 'x', 'bogus'), () => event('r2', 'x')]) {
        await expect(store.updateRun('r1', (r) => {
          r.state = 'aborted';
        }, { audit: () => bad('r1') })).rejects.toThrow(/kind|is for run r2/);
        await expect(store.createRun(sampleRun('r3'), { audit: bad('r3') })).rejects.toThrow(/kind|is for run r2/);
      }
      expect(await store.getRun('r1')).toMatchObject({ state: 'paused', revision: 1 });
      expect(await store.getRun('r3')).toBeUndefined();
      expect(await store.listAudit('r1')).toHaveLength(2);
      // a decision refused (its mutate throws) writes no event either
      await expect(store.updateRun('r1', () => {
        throw new ConflictError('already approved');
      }, { audit: () => event('r1', 'approved by U2') })).rejects.toThrow('already approved');
      expect(await store.listAudit('r1')).toHaveLength(2);
    });

    test('updateRun refuses an async mutate, an unknown run, and a mutate that breaks the run', async () => {
      await store.createRun(sampleRun('r1'));
      await expect(store.updateRun('r1', (async () => undefined) as unknown as () => void)).rejects.toThrow(/synchronous/);
      await expect(store.updateRun('nope', () => undefined)).rejects.toThrow(NotFoundError);
      await expect(
        store.updateRun('r1', (r) => {
          (r as { state: string }).state = 'exploded';
        }),
      ).rejects.toThrow(/run:r1.*state/);
      expect((await store.getRun('r1'))?.revision).toBe(0);
    });

    test('Tools follow-up (issue 15): kept with the run, opened once by two replicas, a reminder claimed once, a malformed one refused', async () => {
      await store.createRun(sampleRun('r1', { state: 'done' }));
      const other = await replica();
      const f = { needed: '7.6.0', label: 'XenServer 7.6', openedAt: 1, checkedAt: 1, pending: [{ vm: 'a', uuid: 'u', current: '7.1.0', needed: '7.6.0' }], done: [], version: 1, shownVersion: 0 };
      const open = (s: Store) =>
        s.updateRun('r1', (r) => {
          if (r.toolsFollowUp) throw new ConflictError('already open');
          r.toolsFollowUp = JSON.parse(JSON.stringify(f));
        });
      const results = await Promise.allSettled([open(store), open(other)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await other.getRun('r1'))!.toolsFollowUp).toEqual(f);
      const claims = await Promise.all([store.claimNotice('tools:r1:1', undefined, 10), other.claimNotice('tools:r1:1', undefined, 10)]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      await expect(
        store.updateRun('r1', (r) => {
          (r.toolsFollowUp as { version: number }).version = -1;
        }),
      ).rejects.toThrow(/run:r1.*toolsFollowUp/);
      expect((await store.getRun('r1'))!.toolsFollowUp!.version).toBe(1);
    });

    describe("a run's plan and baseline (issue 13: stored apart from the run's progress)", () => {
      const baseline = () => ({ takenAt: 7, haEnabled: false, hosts: [{ ref: 'OpaqueRef:h1', name: 'h1' }], vms: [{ ref: 'OpaqueRef:v1', name: 'vm1' }] }) as unknown as NonNullable<Run['baseline']>;

      test('read back whole after progress updates, on this replica and another', async () => {
        const plan = samplePlan({ id: 'p-big', hosts: [{ host: 'OpaqueRef:h1', name: 'h1' } as Plan['hosts'][number]] });
        await store.createRun(sampleRun('r1', { plan }));
        for (let i = 0; i < 3; i++) {
          await store.updateRun('r1', (r) => {
            r.steps[0].attempts = i + 1;
          });
        }
        const other = await replica();
        for (const s of [store, other]) {
          const run = (await s.getRun('r1'))!;
          expect(run.plan).toEqual(plan);
          expect(run.steps[0].attempts).toBe(3);
          expect(run.baseline).toBeUndefined();
        }
        expect((await store.listRuns())[0].plan).toEqual(plan);
      });

      test('a baseline recorded by one replica is seen by another that had read the run before', async () => {
        await store.createRun(sampleRun('r1'));
        const other = await replica();
        expect((await other.getRun('r1'))!.baseline).toBeUndefined();
        await store.updateRun('r1', (r) => {
          r.baseline ??= baseline();
        });
        expect((await other.getRun('r1'))!.baseline).toEqual(baseline());
        expect((await other.listRuns())[0].baseline).toEqual(baseline());
        const updated = await other.updateRun('r1', (r) => {
          r.state = 'paused';
        });
        expect(updated.baseline).toEqual(baseline());
      });

      test('replacing the plan or a recorded baseline is refused and writes nothing', async () => {
        await store.createRun(sampleRun('r1', { baseline: baseline() }));
        await expect(
          store.updateRun('r1', (r) => {
            r.state = 'paused';
            r.plan = samplePlan({ id: 'swapped' });
          }),
        ).rejects.toThrow(/plan cannot change/);
        await expect(
          store.updateRun('r1', (r) => {
            r.baseline = { ...baseline(), takenAt: 8 };
          }),
        ).rejects.toThrow(/baseline cannot change/);
        const run = (await store.getRun('r1'))!;
        expect(run).toMatchObject({ state: 'running', revision: 0, plan: { id: 'abcdef123456' }, baseline: { takenAt: 7 } });
      });

      test('steps written by another replica are read, also by one that read the run before', async () => {
        const steps = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, kind: 'evacuate' as const, state: 'pending' as const, attempts: 0 }));
        await store.createRun(sampleRun('r1', { steps }));
        const other = await replica();
        expect((await store.getRun('r1'))!.steps).toEqual(steps);
        await other.updateRun('r1', (r) => {
          r.steps[3] = { ...r.steps[3], state: 'done', data: { moved: { v1: 'h2' } } };
          r.steps[7].attempts = 2;
        });
        await other.updateRun('r1', (r) => {
          r.steps[7].state = 'failed';
        });
        const expected = steps.map((s, i) => (i === 3 ? { ...s, state: 'done', data: { moved: { v1: 'h2' } } } : i === 7 ? { ...s, state: 'failed', attempts: 2 } : s));
        expect((await store.getRun('r1'))!.steps).toEqual(expected);
        expect((await store.listRuns())[0].steps).toEqual(expected);
        const next = await store.updateRun('r1', (r) => {
          r.steps[11].state = 'running';
        });
        expect(next.steps[3].data).toEqual({ moved: { v1: 'h2' } });
        expect((await other.getRun('r1'))!.steps.map((s) => s.state)).toEqual(expected.map((s, i) => (i === 11 ? 'running' : s.state)));
      });

      test("a step's field can be set on a run read from the store; its nested data can only be replaced", async () => {
        await store.createRun(sampleRun('r1', { steps: [{ id: 's0', kind: 'evacuate', state: 'running', attempts: 1, data: { moved: { v1: 'h2' } } }] }));
        const read = (await store.getRun('r1'))!;
        read.steps[0].state = 'done'; // a copy: not persisted, and no other reader sees it
        expect((await store.getRun('r1'))!.steps[0].state).toBe('running');
        expect(() => {
          (read.steps[0].data as { moved: Record<string, string> }).moved.v2 = 'h3';
        }).toThrow(TypeError);
        await expect(
          store.updateRun('r1', (r) => {
            r.state = 'paused';
            (r.steps[0].data as { moved: Record<string, string> }).moved.v2 = 'h3';
          }),
        ).rejects.toThrow(TypeError);
        await store.updateRun('r1', (r) => {
          r.steps[0].data = { moved: { ...(r.steps[0].data!.moved as object), v2: 'h3' } };
        });
        expect((await store.getRun('r1'))!).toMatchObject({ state: 'running', revision: 1, steps: [{ data: { moved: { v1: 'h2', v2: 'h3' } } }] });
      });

      test('a plan read from the store cannot be changed in place (it is shared by every reader)', async () => {
        await store.createRun(sampleRun('r1'));
        const run = (await store.getRun('r1'))!;
        expect(() => {
          run.plan.steps.push({ id: 'x', kind: 'backup', description: 'x', expectedSeconds: 1 });
        }).toThrow(TypeError);
        await expect(
          store.updateRun('r1', (r) => {
            (r.plan as { executable: boolean }).executable = false;
          }),
        ).rejects.toThrow(TypeError);
        expect((await store.getRun('r1'))!.plan).toEqual(samplePlan());
      });
    });

    test('listRunHeads: the runs of listRuns, in the same order and filtered alike, without plan, baseline or steps', async () => {
      await store.createRun(sampleRun('a1', { createdAt: 1 }));
      await store.createRun(sampleRun('a2', { createdAt: 3, state: 'done', baseline: { takenAt: 1, haEnabled: false, hosts: [], vms: [] } }));
      await store.createRun(sampleRun('b1', { createdAt: 2, pool: 'pool-b' }));
      await store.updateRun('a1', (r) => {
        r.state = 'paused';
      });
      const heads = await store.listRunHeads();
      expect(heads.map((h) => h.id)).toEqual((await store.listRuns()).map((r) => r.id));
      for (const h of heads) for (const part of ['plan', 'baseline', 'steps', 'stepRevs', 'hasBaseline']) expect(h).not.toHaveProperty(part);
      expect(heads.find((h) => h.id === 'a1')).toMatchObject({ state: 'paused', revision: 1, requestedBy: 'U1', pool: 'pool-a' });
      expect((await store.listRunHeads({ pool: 'pool-a', states: ['done'] })).map((h) => h.id)).toEqual(['a2']);
    });

    test('nextRunId: pool, UTC date of now, per-day counter', async () => {
      const nov25late = Date.UTC(2026, 10, 25, 23, 59);
      expect(await store.nextRunId('pool-a', nov25late)).toBe('pool-a-20261125-1');
      expect(await store.nextRunId('pool-a', nov25late)).toBe('pool-a-20261125-2');
      expect(await store.nextRunId('pool-b', nov25late)).toBe('pool-b-20261125-1');
      expect(await store.nextRunId('pool-a', Date.UTC(2026, 10, 26, 0, 1))).toBe('pool-a-20261126-1');
    });

    test('nextRunId skips an id already taken by a run', async () => {
      await store.createRun(sampleRun('pool-a-20261125-1'));
      expect(await store.nextRunId('pool-a', Date.UTC(2026, 10, 25))).toBe('pool-a-20261125-2');
    });

    test('listRuns: newest first, filtered by pool and state', async () => {
      await store.createRun(sampleRun('a1', { createdAt: 1 }));
      await store.createRun(sampleRun('a2', { createdAt: 3, state: 'done' }));
      await store.createRun(sampleRun('b1', { createdAt: 2, pool: 'pool-b' }));
      expect((await store.listRuns()).map((r) => r.id)).toEqual(['a2', 'b1', 'a1']);
      expect((await store.listRuns({ pool: 'pool-a' })).map((r) => r.id)).toEqual(['a2', 'a1']);
      expect((await store.listRuns({ states: ['running', 'paused'] })).map((r) => r.id)).toEqual(['b1', 'a1']);
    });

    test('audit log: append order kept, per run, events are stored as given', async () => {
      for (let i = 0; i < 12; i++) {
        await store.appendAudit({ at: 100 - i, runId: 'r1', kind: 'step', actor: 'runner', message: `event ${i}` });
      }
      await store.appendAudit({ at: 1, runId: 'r10', kind: 'state', actor: 'cli', message: 'other run' });
      const events = await store.listAudit('r1');
      expect(events.map((e) => e.message)).toEqual(Array.from({ length: 12 }, (_, i) => `event ${i}`));
      expect(await store.listAudit('r10')).toHaveLength(1);
      await expect(store.appendAudit({ at: 1, runId: 'r1', kind: 'bogus' as 'step', actor: 'x', message: 'm' })).rejects.toThrow(/kind/);
    });

    test('plans: latest per pool', async () => {
      expect(await store.getLatestPlan('pool-a')).toBeUndefined();
      await store.savePlan('pool-a', samplePlan({ id: 'p1' }));
      await store.savePlan('pool-a', samplePlan({ id: 'p2' }));
      await store.savePlan('pool-b', samplePlan({ id: 'p3', pool: 'pool-b' }));
      expect((await store.getLatestPlan('pool-a'))?.id).toBe('p2');
      expect((await store.getLatestPlan('pool-b'))?.id).toBe('p3');
    });

    describe('leases', () => {
      test('a second owner is refused with the holder and its run', async () => {
        expect(await store.acquireLease('pool-a', 'bot-1', 'run-1', 60_000, 1_000)).toEqual({ ok: true, token: 1 });
        expect(await store.acquireLease('pool-a', 'bot-2', 'run-2', 60_000, 2_000)).toEqual({
          ok: false,
          holder: 'bot-1',
          runId: 'run-1',
          expiresAt: 61_000,
        });
        // the same owner may not hold a second run on the pool either
        expect(await store.acquireLease('pool-a', 'bot-1', 'run-3', 60_000, 2_000)).toMatchObject({ ok: false, runId: 'run-1' });
        // re-acquiring its own lease for its own run is fine (restart with a stable owner id)
        expect(await store.acquireLease('pool-a', 'bot-1', 'run-1', 60_000, 2_000)).toEqual({ ok: true, token: 1 });
        // other pools are independent
        expect(await store.acquireLease('pool-b', 'bot-2', 'run-2', 60_000, 2_000)).toEqual({ ok: true, token: 1 });
      });

      test('a stale lease is taken over only after expiry, and the take-over is audited', async () => {
        await store.acquireLease('pool-a', 'bot-1', 'run-1', 10_000, 1_000);
        expect(await store.acquireLease('pool-a', 'bot-2', 'run-1', 10_000, 10_999)).toMatchObject({ ok: false });
        expect(await store.listAudit('run-1')).toEqual([]);
        expect(await store.acquireLease('pool-a', 'bot-2', 'run-1', 10_000, 11_000)).toEqual({ ok: true, token: 2, tookOverFrom: 'bot-1' });
        expect(await store.getLease('pool-a')).toEqual({ owner: 'bot-2', runId: 'run-1', expiresAt: 21_000, token: 2 });
        const audit = await store.listAudit('run-1');
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({ kind: 'lease', actor: 'bot-2', detail: { previousOwner: 'bot-1', pool: 'pool-a' } });
        // the old owner can no longer renew
        expect(await store.renewLease('pool-a', 'bot-1', 10_000, 11_500)).toBe(false);
      });

      test('renew extends, release frees, release by another owner is a no-op', async () => {
        await store.acquireLease('pool-a', 'bot-1', 'run-1', 10_000, 0);
        expect(await store.renewLease('pool-a', 'bot-1', 10_000, 9_000)).toBe(true);
        expect((await store.getLease('pool-a'))?.expiresAt).toBe(19_000);
        await store.releaseLease('pool-a', 'bot-2');
        expect(await store.getLease('pool-a')).toBeDefined();
        await store.releaseLease('pool-a', 'bot-1');
        expect(await store.getLease('pool-a')).toBeUndefined();
        expect(await store.renewLease('pool-a', 'bot-1', 10_000, 9_000)).toBe(false);
        // a new holder after a release gets a larger token: a write fenced with the old one is refused
        expect(await store.acquireLease('pool-a', 'bot-2', 'run-2', 10_000, 9_500)).toEqual({ ok: true, token: 2 });
      });
    });

    test('schedules: ids per pool, save, update, list, delete', async () => {
      const id = await store.nextScheduleId('pool-a');
      expect(id).toBe('pool-a-w1');
      const s = scheduleOf(id, 'pool-a');
      expect(await store.addSchedule(s, () => true)).toBeUndefined();
      const updated = await store.updateSchedule(id, (x) => {
        x.state = 'active';
      });
      expect(updated).toMatchObject({ state: 'active', updatedAt: 5_000 });
      expect((await store.listSchedules({ pool: 'pool-a' })).map((x) => x.id)).toEqual([id]);
      expect(await store.listSchedules({ pool: 'pool-b' })).toEqual([]);
      expect(await store.deleteSchedule(id)).toBe(true);
      expect(await store.deleteSchedule(id)).toBe(false);
      await expect(store.updateSchedule(id, () => undefined)).rejects.toThrow(NotFoundError);
      expect(await store.nextScheduleId('pool-a')).toBe('pool-a-w2');
    });

    test('addSchedule: two replicas adding a live window to one pool at once leave one; other pools are not held', async () => {
      const live = (o: { state: string }) => o.state === 'scheduled' || o.state === 'active';
      const other = await replica();
      const [a, b] = await Promise.all([store.addSchedule(scheduleOf('pool-a-w1', 'pool-a'), live), other.addSchedule(scheduleOf('pool-a-w2', 'pool-a'), live)]);
      // exactly one was saved; the other was told which window holds the pool
      expect([a, b].filter((x) => x === undefined)).toHaveLength(1);
      expect((a ?? b)!.id).toBe(a ? 'pool-a-w2' : 'pool-a-w1');
      expect(await store.listSchedules({ pool: 'pool-a' })).toHaveLength(1);
      expect(await store.addSchedule(scheduleOf('pool-b-w1', 'pool-b'), live)).toBeUndefined();
      // once the live one has ended, the pool takes a new window
      await store.updateSchedule((await store.listSchedules({ pool: 'pool-a' }))[0]!.id, (x) => {
        x.state = 'done';
      });
      expect(await store.addSchedule(scheduleOf('pool-a-w3', 'pool-a'), live)).toBeUndefined();
    });


    describe('fencing (issue 16)', () => {
      test('a write fenced with the current lease goes through; after a take-over the old holder writes nothing', async () => {
        await store.createRun(sampleRun('r1'));
        const first = await store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 0);
        if (!first.ok) throw new Error('lease refused');
        const fence1 = { pool: 'pool-a', owner: 'bot-1', token: first.token };
        await store.updateRun('r1', (r) => {
          r.steps[0].state = 'running';
        }, { fence: fence1 });
        await store.appendAudit({ at: 1, runId: 'r1', kind: 'step', actor: 'runner', message: 'backup started' }, { fence: fence1 });
        // bot-1 stalls past its lease; bot-2 (another replica) takes over
        const other = await replica();
        const second = await other.acquireLease('pool-a', 'bot-2', 'r1', 10_000, 10_000);
        expect(second).toMatchObject({ ok: true, tookOverFrom: 'bot-1' });
        if (!second.ok) throw new Error('take-over refused');
        expect(second.token).toBeGreaterThan(first.token);
        // bot-1 wakes up: every write it attempts is refused and leaves nothing behind
        await expect(store.updateRun('r1', (r) => {
          r.steps[0].state = 'done';
        }, { fence: fence1 })).rejects.toThrow(FencedError);
        await expect(store.appendAudit({ at: 2, runId: 'r1', kind: 'xenapi', actor: 'runner', message: 'host.shutdown h1' }, { fence: fence1 })).rejects.toThrow(FencedError);
        expect(await store.renewLease('pool-a', 'bot-1', 10_000, 10_001, first.token)).toBe(false);
        await store.releaseLease('pool-a', 'bot-1', first.token);
        expect(await store.getRun('r1')).toMatchObject({ revision: 1, steps: [{ state: 'running' }] });
        expect((await store.listAudit('r1')).map((e) => e.message)).toEqual([
          'backup started',
          expect.stringMatching(/^took over the lease of pool pool-a from bot-1/),
        ]);
        expect(await store.getLease('pool-a')).toMatchObject({ owner: 'bot-2', token: second.token });
        // the new holder's fenced writes go through
        await other.updateRun('r1', (r) => {
          r.steps[0].state = 'done';
        }, { fence: { pool: 'pool-a', owner: 'bot-2', token: second.token } });
        expect((await store.getRun('r1'))?.steps[0].state).toBe('done');
      });

      test('a run created under a lease that was taken over is not written', async () => {
        const first = await store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 0);
        if (!first.ok) throw new Error('lease refused');
        const other = await replica();
        const second = await other.acquireLease('pool-a', 'bot-2', 'r2', 10_000, 10_000);
        if (!second.ok) throw new Error('take-over refused');
        await expect(store.createRun(sampleRun('r1'), { fence: { pool: 'pool-a', owner: 'bot-1', token: first.token } })).rejects.toThrow(FencedError);
        expect(await store.getRun('r1')).toBeUndefined();
        await other.createRun(sampleRun('r2'), { fence: { pool: 'pool-a', owner: 'bot-2', token: second.token } });
        expect(await store.getRun('r2')).toBeDefined();
      });

      test('the same owner re-acquiring after its release gets a new token: its old fence is dead', async () => {
        await store.createRun(sampleRun('r1'));
        const a = await store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 0);
        await store.releaseLease('pool-a', 'bot-1');
        const b2 = await store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 1);
        if (!a.ok || !b2.ok) throw new Error('lease refused');
        expect(b2.token).toBeGreaterThan(a.token);
        await expect(store.updateRun('r1', () => undefined, { fence: { pool: 'pool-a', owner: 'bot-1', token: a.token } })).rejects.toThrow(FencedError);
        await expect(store.updateRun('r1', () => undefined, { fence: { pool: 'pool-b', owner: 'bot-1', token: b2.token } })).rejects.toThrow(/nobody holds it/);
      });

      test('listLeases names each pool and its holder', async () => {
        await store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 0);
        await store.acquireLease('pool-b', 'bot-2', 'r2', 10_000, 0);
        expect(await store.listLeases()).toEqual([
          { pool: 'pool-a', owner: 'bot-1', runId: 'r1', expiresAt: 10_000, token: 1 },
          { pool: 'pool-b', owner: 'bot-2', runId: 'r2', expiresAt: 10_000, token: 1 },
        ]);
      });
    });

    describe('across replicas', () => {
      test('a decision raced from two connections takes effect once; the loser sees why', async () => {
        await store.createRun(sampleRun('r1', { state: 'awaiting-approval', steps: [{ id: 'gate-h1', kind: 'approval', state: 'awaiting-approval', attempts: 0 }] }));
        const other = await replica();
        const approve = (s: Store, who: string) =>
          s.updateRun('r1', (r) => {
            const prior = r.approvals.find((a) => a.stepId === 'gate-h1');
            if (prior) throw new ConflictError(`gate-h1 was already approved by ${prior.by}`);
            r.approvals.push({ stepId: 'gate-h1', decision: 'approved', by: who, at: 1 });
            r.steps[0].state = 'done';
            r.state = 'running';
          });
        const results = await Promise.allSettled([approve(store, 'U1'), approve(other, 'U2'), approve(store, 'U3'), approve(other, 'U4')]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/already approved by U\d/);
        const run = (await other.getRun('r1'))!;
        expect(run.approvals).toHaveLength(1);
        expect(run.revision).toBe(1);
      });

      test('counters and audit appends from two connections lose nothing', async () => {
        const other = await replica();
        const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).nextRunId('pool-a', Date.UTC(2026, 10, 25))));
        expect(new Set(ids).size).toBe(10);
        await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).appendAudit({ at: i, runId: 'r1', kind: 'step', actor: 'runner', message: `e${i}` })));
        expect((await store.listAudit('r1')).map((e) => e.message).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`).sort());
      });

      test('only one of two racing acquirers gets an expired lease', async () => {
        await store.acquireLease('pool-a', 'bot-0', 'r1', 1_000, 0);
        const other = await replica();
        const results = await Promise.all([store.acquireLease('pool-a', 'bot-1', 'r1', 10_000, 5_000), other.acquireLease('pool-a', 'bot-2', 'r1', 10_000, 5_000)]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect((await store.listAudit('r1')).filter((e) => e.kind === 'lease')).toHaveLength(1);
      });

      test('a notice (reminder) is claimed once, also by a replica that read the same previous time', async () => {
        const other = await replica();
        expect(await store.listNotices()).toEqual({});
        const claims = await Promise.all([store.claimNotice('remind:r1:gate', undefined, 100), other.claimNotice('remind:r1:gate', undefined, 101)]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        const sentAt = (await other.listNotices())['remind:r1:gate'];
        expect([100, 101]).toContain(sentAt);
        expect(await store.claimNotice('remind:r1:gate', undefined, 200)).toBe(false);
        expect(await store.claimNotice('remind:r1:gate', sentAt, 200)).toBe(true);
      });

      test('a committed run change is announced to listeners', async () => {
        const other = await replica();
        const seen: string[] = [];
        const off = await other.onRunChanged((id) => seen.push(id));
        await store.createRun(sampleRun('r1'));
        await store.updateRun('r1', (r) => {
          r.state = 'paused';
        });
        await expect(store.updateRun('r1', () => {
          throw new Error('refused');
        })).rejects.toThrow('refused');
        for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
        off();
        expect(seen).toEqual(['r1', 'r1']);
      });
    });

    test('outbox: entries keep creation order; replace and delete', async () => {
      const entry = (text: string) => ({ queue: 'C1', describe: text, request: { method: 'chat.postMessage', args: { channel: 'C1', text } }, createdAt: 1 });
      const ids = [await store.outbox.add(entry('one')), await store.outbox.add(entry('two')), await store.outbox.add(entry('three'))];
      expect(await store.outbox.replace({ ...entry('two bis'), id: ids[1] })).toBe(true);
      expect(await store.outbox.delete(ids[0])).toBe(true);
      expect(await store.outbox.replace({ ...entry('gone'), id: ids[0] })).toBe(false);
      expect((await store.outbox.list()).map((e) => e.describe)).toEqual(['two bis', 'three']);
    });

    test('outbox claims: a live replica keeps its entries; a stopped one\'s are claimed by exactly one replica', async () => {
      const entry = (text: string, owner?: string) => ({ queue: 'C1', describe: text, request: { method: 'chat.postMessage', args: { channel: 'C1', text } }, createdAt: 1, ...(owner ? { owner } : {}) });
      await store.heartbeat('live', 10_000, 0);
      await store.heartbeat('dead', 10_000, 0);
      await store.outbox.add(entry('live-1', 'live'));
      for (let i = 0; i < 6; i++) await store.outbox.add(entry(`dead-${i}`, 'dead'));
      await store.outbox.add(entry('legacy'));
      // at 5 000 both are alive: a third replica claims only the unowned entry
      expect((await store.outbox.claim('third', 5_000)).map((e) => e.describe)).toEqual(['legacy']);
      // at 20 000 both stopped heartbeating except 'live', which beats again
      await store.heartbeat('live', 10_000, 15_000);
      const other = await replica();
      // claimers are live replicas: they heartbeat first (serve does, before each claim)
      await store.heartbeat('rep-x', 10_000, 20_000);
      await other.heartbeat('rep-y', 10_000, 20_000);
      const [x, y] = await Promise.all([store.outbox.claim('rep-x', 20_000), other.outbox.claim('rep-y', 20_000)]);
      const taken = [...x, ...y].map((e) => e.describe).filter((d) => d.startsWith('dead'));
      expect(taken.sort()).toEqual(['dead-0', 'dead-1', 'dead-2', 'dead-3', 'dead-4', 'dead-5']);
      expect([...x, ...y].some((e) => e.describe === 'live-1')).toBe(false);
      const owners = new Map((await store.outbox.list()).map((e) => [e.describe, e.owner]));
      for (const e of x) expect(owners.get(e.describe)).toBe('rep-x');
      for (const e of y) expect(owners.get(e.describe)).toBe('rep-y');
      expect(owners.get('live-1')).toBe('live');
      expect((await store.listReplicas()).map((r) => r.owner).sort()).toEqual(['dead', 'live', 'rep-x', 'rep-y']);
      // a day after it went silent a replica is forgotten; its entries stay claimable
      await store.heartbeat('rep-x', 10_000, 40_000 + 24 * 3600_000);
      expect((await store.listReplicas()).map((r) => r.owner)).toEqual(['rep-x']);
      expect((await store.outbox.claim('rep-x', 40_000 + 24 * 3600_000)).map((e) => e.describe)).toEqual(expect.arrayContaining(['live-1', 'dead-0']));
    });

    test('describe and ping', async () => {
      expect(['sqlite', 'postgres', 'memory']).toContain(store.describe().backend);
      expect(store.describe().location).not.toMatch(/:[^:@/]+@/); // never a password
      await expect(store.ping()).resolves.toBeUndefined();
    });

    test('a closed store refuses work', async () => {
      await store.close();
      await expect(store.getRun('x')).rejects.toThrow(/closed/);
      store = await b.open();
    });
  });
}
