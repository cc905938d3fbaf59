/**
 * The run loop's audit records (a step's start, its end, a wait for an approver, a reconnection mid-step, a step's
 * failure, the baseline, the run's end, and the record written before each action on the pool): an append whose
 * answer was lost may have been committed. Before it is tried again the run's audit is read for it, so the record is
 * never written twice; an append that was not committed is written again.
 */
import { openStore, type Store } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { AuditEvent } from '../../src/domain/types';
import { StepFailure } from '../../src/runner/errors';
import { XenApiConnectionError } from '../../src/xenapi/errors';
import { FakePool } from './fake-pool';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, failingStore, thread } from './store-failures';

/** A client that reads a small pool (enough for the baseline) and answers the calls sent to it. */
function poolClient() {
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }], [{ name: 'app', host: 'h2', memGiB: 4, disks: ['nfs'] }]);
  const sent: string[] = [];
  const client = {
    reconnect: async () => undefined,
    getAllRecords: async (cls: Parameters<FakePool['getAllRecords']>[0]) => pool.getAllRecords(cls),
    call: async (method: string, params: unknown[]) => {
      sent.push(`${method} ${String(params[0])}`);
      return 'OK';
    },
  } as unknown as PoolClient;
  return { client, sent };
}

const refused = () => new XenApiConnectionError('cannot reach 127.0.0.1: ECONNREFUSED (host.disable)', '127.0.0.1', 'host.disable', 'ECONNREFUSED');

type Start = 'fresh' | 'backed-up' | 'all-done';

interface Case {
  record: string;
  matches: (e: AuditEvent, runId: string) => boolean;
  start: Start;
  /** h1:disable's behaviour: `first` on its first execution */
  disable?: 'reconnect' | 'fail' | 'act';
  /** the run's state once the loop stopped */
  ends: string;
}

const cases: Case[] = [
  { record: "a step's start", matches: (e) => e.message === 'h1:disable started (attempt 1)', start: 'backed-up', ends: 'awaiting-approval' },
  { record: "a step's end", matches: (e) => e.message === 'h1:disable done', start: 'backed-up', ends: 'awaiting-approval' },
  { record: 'a wait for an approver', matches: (e) => e.message === 'waiting for approval of h1:approval', start: 'backed-up', ends: 'awaiting-approval' },
  { record: 'a reconnection mid-step', matches: (e) => /^h1:disable: the pool did not answer/.test(e.message), start: 'backed-up', disable: 'reconnect', ends: 'awaiting-approval' },
  { record: "a step's failure", matches: (e) => e.message === 'h1:disable failed: the host refused', start: 'backed-up', disable: 'fail', ends: 'failed' },
  { record: 'the baseline', matches: (e) => /^pool state recorded before the first change/.test(e.message), start: 'fresh', ends: 'awaiting-approval' },
  { record: "the run's end", matches: (e, runId) => e.kind === 'state' && e.message.startsWith(`run ${runId} `), start: 'all-done', ends: 'done' },
  { record: 'an action on the pool', matches: (e) => e.kind === 'xenapi' && e.message === 'host.disable h1', start: 'backed-up', disable: 'act', ends: 'awaiting-approval' },
];

async function runOf(inner: Store, start: Start) {
  const run = { ...makeRun(makePlan()), ...(start === 'fresh' ? { baseline: undefined } : {}) };
  for (const s of run.steps) {
    if (start === 'all-done' || (start === 'backed-up' && s.id === 'backup')) s.state = 'done';
  }
  await inner.createRun(run);
  return run;
}

describe("Engine: the run loop's audit record whose append failed is read back before it is written again", () => {
  describe.each(['after-commit', 'lost'] as const)('the append failed once (%s)', (how) => {
    it.each(cases)('$record: written exactly once, the run goes on', async (c) => {
      const inner = await openStore({ path: ':memory:', clock: fastClock() });
      let runId = '';
      let left = 1;
      const { store, failures } = failingStore(inner, { audit: (e) => c.matches(e, runId) && left-- > 0 }, how);
      const { client, sent } = poolClient();
      let executions = 0;
      const { registry } = scriptedSteps(async (ctx) => {
        if (ctx.step.id !== 'h1:disable') return undefined;
        executions++;
        if (c.disable === 'reconnect' && executions === 1) throw refused();
        if (c.disable === 'fail') throw new StepFailure('the host refused');
        if (c.disable === 'act') await ctx.act('host.disable', ['h1'], 'h1');
        return undefined;
      });
      const t = engineOn(store, registry, client);
      const run = await runOf(inner, c.start);
      runId = run.id;
      t.engine.drive(run.id);
      await t.engine.whenIdle(run.id);

      expect(failures.audits).toBe(1);
      expect((await inner.listAudit(run.id)).filter((e) => c.matches(e, run.id))).toHaveLength(1);
      expect((await inner.getRun(run.id))!.state).toBe(c.ends);
      expect(thread(t.notifier, run.id)).toEqual([]);
      if (c.disable === 'act') expect(sent).toEqual(['host.disable h1']);
      await inner.close();
    });
  });
});
