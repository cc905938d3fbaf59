/**
 * Following a task can be stopped (TaskWaitOptions.signal). A step follows a task in progress (a stop, start or
 * migration whose answer was lost, a slow call's task) for up to taskDeadlineMs (6 h by default); when the operator
 * aborts the run, the engine aborts the step's signal and waits for the step to return. The wait must end at once
 * with the signal's reason, the event.from long-poll in flight included, and the task must be left as it is: it is
 * the pool's (never cancelled, never destroyed), only no longer followed.
 */
import { XenApiClient } from '../../src/xenapi';
import { startFakePool, type FakePool } from './helpers/fake-pool';

class Aborted extends Error {}

let pool: FakePool;
let client: XenApiClient;

afterEach(async () => {
  client?.close();
  await pool?.stop();
});

async function start(timeScale?: number): Promise<void> {
  pool = await startFakePool({ hosts: 1, ...(timeScale ? { timeScale } : {}) });
  client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' } });
  await client.login();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until `ready` holds (at most `ms` real ms): on a loaded machine the client's first calls take longer than any fixed sleep. */
async function until(ready: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready() && Date.now() < end) await sleep(10);
}

/** How `waiting` ends within `ms` real ms: its value or error, else 'still following'. */
async function within<T>(waiting: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'still following'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still following'>((r) => (timer = setTimeout(() => r('still following'), ms)));
  try {
    return await Promise.race([waiting.then((value) => ({ value }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls that touch a task other than following it by events (the fake pool records every request). */
const taskCalls = () => pool.requests.filter((r) => /^task\.(cancel|destroy)|^Async\.task/.test(r.method)).map((r) => r.method);

test('an abort while event.from long-polls ends the wait at once with the signal\'s reason; the task is left pending, not cancelled nor destroyed', async () => {
  await start(1); // event.from's 30 s are 30 real seconds: the long-poll is in flight when the abort comes
  const task = pool.createTask('Async.VM.suspend');
  const controller = new AbortController();
  const waiting = client.waitForTask(task, { keep: true, signal: controller.signal });
  await until(() => pool.calls('event.from') >= 2);
  await sleep(50);
  expect(pool.calls('event.from')).toBe(2); // the first (empty token) answered at once; the second blocks
  const reason = new Aborted('run aborted by an operator');
  const abortedAt = Date.now();
  controller.abort(reason);
  const outcome = await within(waiting, 2_000);
  expect(outcome).toEqual({ error: reason });
  expect(Date.now() - abortedAt).toBeLessThan(1_000);
  // nothing more is sent for it, and the task is the pool's as before
  const sent = pool.requests.length;
  await sleep(300);
  expect(pool.requests.slice(sent).map((r) => r.method)).toEqual([]);
  expect(taskCalls()).toEqual([]);
  expect(pool.record(task)?.status).toBe('pending');
  pool.finishTask(task, {}); // only so that the fake pool's side of the abandoned long-poll returns before it stops
});

test('a signal already aborted: the wait rejects with its reason and sends nothing', async () => {
  await start();
  const task = pool.createTask('Async.VM.start');
  const reason = new Aborted('lease lost');
  const sent = pool.requests.length;
  const outcome = await within(client.waitForTask(task, { signal: AbortSignal.abort(reason) }), 2_000);
  expect(outcome).toEqual({ error: reason });
  expect(pool.requests.slice(sent).map((r) => r.method)).toEqual([]);
  expect(pool.record(task)?.status).toBe('pending');
});

test('an abort between two polls (short poll windows) ends the wait too, and no further poll is sent', async () => {
  await start(); // event.from's 30 s are 30 real ms: the wait loops, polling again and again
  const task = pool.createTask('Async.VM.pool_migrate');
  const controller = new AbortController();
  const waiting = client.waitForTask(task, { keep: true, signal: controller.signal });
  await until(() => pool.calls('event.from') > 2);
  expect(pool.calls('event.from')).toBeGreaterThan(2);
  const reason = new Aborted('run aborted');
  controller.abort(reason);
  expect(await within(waiting, 2_000)).toEqual({ error: reason });
  await sleep(200); // the poll in flight when the abort came may reach the fake pool's record just after
  const polls = pool.calls('event.from');
  await sleep(300); // a wait still going polls every 30 real ms
  expect(pool.calls('event.from')).toBe(polls);
  expect(taskCalls()).toEqual([]);
  expect(pool.exists(task)).toBe(true);
});

test('callAsync with a signal: the call is sent and answered, then the abort stops following its task, which is left running', async () => {
  await start(1);
  let release!: () => void;
  pool.on('host.evacuate', () => new Promise<string>((r) => (release = () => r(''))));
  const controller = new AbortController();
  const waiting = client.callAsync('host.evacuate', ['OpaqueRef:h'], { signal: controller.signal });
  await until(() => pool.calls('Async.host.evacuate') > 0 && pool.calls('event.from') > 0);
  expect(pool.calls('Async.host.evacuate')).toBe(1);
  const reason = new Aborted('run aborted');
  controller.abort(reason);
  expect(await within(waiting, 2_000)).toEqual({ error: reason });
  const followed = pool.requests.find((r) => r.method === 'event.from')!.params[1] as string[];
  const ref = followed[0]!.replace(/^task\//, '');
  expect(pool.record(ref)?.status).toBe('pending');
  release();
  await until(() => pool.record(ref)?.status !== 'pending');
  // it ended on the pool on its own; this client neither cancelled nor destroyed it
  expect(pool.record(ref)?.status).toBe('success');
  expect(taskCalls()).toEqual([]);
});

test('control: a signal that is not aborted changes nothing; the result comes back and the task is destroyed as before', async () => {
  await start();
  const task = pool.createTask('Async.VM.clone');
  const controller = new AbortController();
  setTimeout(() => pool.finishTask(task, { result: '<value>OpaqueRef:copy</value>' }), 50);
  expect(await within(client.waitForTask(task, { signal: controller.signal }), 2_000)).toEqual({ value: 'OpaqueRef:copy' });
  expect(pool.calls('task.destroy')).toBe(1);
  controller.abort(new Aborted('later')); // after the wait ended: no effect, nothing sent
  await sleep(50);
  expect(pool.calls('task.destroy')).toBe(1);
});

test('callAsync with a signal already aborted sends nothing: no Async call, no following', async () => {
  await start();
  const sent = pool.requests.length;
  const reason = new Aborted('lease lost before the call');
  expect(await within(client.callAsync('VM.clean_shutdown', ['OpaqueRef:vm'], { signal: AbortSignal.abort(reason) }), 2_000)).toEqual({ error: reason });
  expect(pool.requests.slice(sent).map((r) => r.method)).toEqual([]);
});
