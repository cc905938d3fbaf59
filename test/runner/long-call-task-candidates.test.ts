/**
 * A long call whose reply was lost (no task ref saved): the re-run looks for its task among the pool's tasks. A task
 * record carries only its name_label (the wire name, `Async.host.call_plugin` for every client's plugin call: XenCenter,
 * Xen Orchestra, a second operator, any host, any plugin), its status and its `created` time (reference K6). A task
 * created before the call was issued is not its own; when more than one candidate remains, which one is the bot's
 * `main` cannot be told: none is followed (another client's answer taken for the end of `main` would reboot the host
 * while its own `main` may still write /boot/installer, reference top 1) and nothing is sent again; the step fails
 * with CALL_OUTCOME_UNKNOWN listing them, and the operator decides.
 */
import { ScaledClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { longCall, type Reconciled } from '../../src/runner/long-call';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';

type Task = { name_label: string; status: string; created?: Date };

const ISSUED_AT = Date.parse('2026-12-03T05:30:00Z');
const at = (minutesAfterIssue: number) => new Date(ISSUED_AT + minutesAfterIssue * 60_000);

function world(tasks: Record<string, Task>, o: { unknownReported?: boolean; reconcile?: Reconciled } = {}) {
  const followed: string[] = [];
  const sent: string[] = [];
  const audits: string[] = [];
  const client = {
    call: async (method: string) => {
      if (method !== 'task.get_all_records') throw new Error(`unexpected read ${method}`);
      return tasks;
    },
    waitForTask: async (task: string) => {
      followed.push(task);
      return 'true';
    },
  };
  const step = {
    id: 'xs-a2:upgrade',
    data: { prepareCall: { method: 'host.call_plugin', issuedAt: ISSUED_AT, ...(o.unknownReported ? { unknownReported: true } : {}) } } as Record<string, unknown>,
  };
  const ctx = {
    step,
    log: silentLogger,
    signal: new AbortController().signal,
    assertLive: async () => undefined,
    saveData: async (patch: Record<string, unknown>) => void (step.data = { ...step.data, ...patch }),
    act: async (method: string) => {
      sent.push(method);
      return 'OpaqueRef:new';
    },
    audit: async (text: string) => void audits.push(text),
  } as unknown as StepContext;
  const deps = { client, clock: new ScaledClock(1000), logger: silentLogger } as unknown as StepDeps;
  const run = () =>
    longCall(deps, ctx, {
      key: 'prepareCall',
      method: 'host.call_plugin',
      params: ['OpaqueRef:xs-a2', 'prepare_host_upgrade.py', 'main', { url: 'http://repo/7.6/' }],
      target: 'xs-a2 (prepare_host_upgrade.py main)',
      budgetMs: 3600_000,
      reconcile: async () => o.reconcile ?? 'unknown',
      checkBeforeRetry: 'check the console',
    }).then(
      (r) => ({ resolved: r }),
      (err: Error & { code?: string; observed?: string[] }) => ({ rejected: err }),
    );
  return { run, followed, sent, audits, step };
}

it('with two pending Async.host.call_plugin tasks after a lost reply, none is adopted at a guess and nothing is sent again', async () => {
  // another client's plugin call (listed first), and the bot's own main, still running; `created` not given
  const w = world({
    'OpaqueRef:other-client': { name_label: 'Async.host.call_plugin', status: 'pending' },
    'OpaqueRef:bots-main': { name_label: 'Async.host.call_plugin', status: 'pending' },
  });
  const outcome = await w.run();
  expect(w.sent).toEqual([]);
  expect(w.followed).toEqual([]);
  expect(outcome).not.toHaveProperty('resolved');
  const err = (outcome as { rejected: Error & { code?: string; observed?: string[] } }).rejected;
  expect(err.code).toBe('CALL_OUTCOME_UNKNOWN');
  expect(err.message).toContain('2 tasks of Async.host.call_plugin');
  expect(err.observed).toEqual(
    expect.arrayContaining([
      'task OpaqueRef:other-client: pending, created at an unreadable time',
      'task OpaqueRef:bots-main: pending, created at an unreadable time',
    ]),
  );
  expect(w.step.data.prepareCall).toMatchObject({ unknownReported: true });
});

it('a pending task and an ended one both created since the call: ambiguous too, neither is followed', async () => {
  const w = world({
    'OpaqueRef:other-client': { name_label: 'Async.host.call_plugin', status: 'pending', created: at(1) },
    'OpaqueRef:ended': { name_label: 'Async.host.call_plugin', status: 'success', created: at(0) },
  });
  const outcome = await w.run();
  expect(w.followed).toEqual([]);
  expect(w.sent).toEqual([]);
  expect(outcome).toMatchObject({ rejected: { code: 'CALL_OUTCOME_UNKNOWN' } });
});

it('tasks created before the call was issued (beyond the clock skew) are not candidates: the one left is followed', async () => {
  const w = world({
    'OpaqueRef:older-pending': { name_label: 'Async.host.call_plugin', status: 'pending', created: at(-30) },
    'OpaqueRef:older-ended': { name_label: 'Async.host.call_plugin', status: 'success', created: at(-20) },
    'OpaqueRef:other-method': { name_label: 'Async.pool_update.apply', status: 'pending', created: at(1) },
    'OpaqueRef:bots-main': { name_label: 'Async.host.call_plugin', status: 'pending', created: at(0) },
  });
  const outcome = await w.run();
  expect(w.followed).toEqual(['OpaqueRef:bots-main']);
  expect(w.sent).toEqual([]);
  expect(outcome).toEqual({ resolved: { sent: true, result: 'true' } });
});

it('several candidates but the pool shows the effect: nothing followed, nothing sent, no failure', async () => {
  const w = world(
    {
      a: { name_label: 'Async.host.call_plugin', status: 'pending', created: at(1) },
      b: { name_label: 'Async.host.call_plugin', status: 'pending', created: at(2) },
    },
    { reconcile: 'done' },
  );
  const outcome = await w.run();
  expect(w.followed).toEqual([]);
  expect(w.sent).toEqual([]);
  expect(outcome).toEqual({ resolved: { sent: false, why: 'its effect is already seen on the pool' } });
});

it("the operator's Retry after the alert is their decision: it is sent again, and the audit says so", async () => {
  const w = world(
    {
      a: { name_label: 'Async.host.call_plugin', status: 'pending', created: at(1) },
      b: { name_label: 'Async.host.call_plugin', status: 'pending', created: at(2) },
    },
    { unknownReported: true, reconcile: 'not-done' },
  );
  await w.run();
  expect(w.followed).toEqual(['OpaqueRef:new']);
  expect(w.sent).toEqual(['Async.host.call_plugin']);
  expect(w.audits).toContain("host.call_plugin on xs-a2 (prepare_host_upgrade.py main): outcome unknown; sent again after the operator's Retry");
});
