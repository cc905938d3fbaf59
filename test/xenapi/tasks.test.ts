import { XenApiClient, XenApiError, XenApiTimeoutError, decodeTaskResult } from '../../src/xenapi';
import { FakeClock } from './helpers/clocks';
import { XapiFailure, startFakePool, type FakePool } from './helpers/fake-pool';

let pool: FakePool;
let client: XenApiClient;

beforeEach(async () => {
  pool = await startFakePool({ hosts: 1 });
  client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' } });
});

afterEach(async () => {
  client.close();
  await pool.stop();
});

test('task results are decoded from their XML-RPC encoding', async () => {
  expect(await decodeTaskResult('<value>OpaqueRef:abc</value>')).toBe('OpaqueRef:abc');
  expect(await decodeTaskResult('<value></value>')).toBe('');
  expect(await decodeTaskResult('')).toBe('');
  expect(await decodeTaskResult('<value><array><data><value>a</value></data></array></value>')).toEqual(['a']);
  await expect(decodeTaskResult('<value><bogus/></value>')).rejects.toThrow(/not an XML-RPC value/);
});

test('callAsync: Async.<method> returns a task followed through event.from; the result is returned and the task destroyed', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  pool.on('VM.clone', async () => {
    await gate;
    return 'OpaqueRef:new-vm';
  });
  const pending = client.callAsync('VM.clone', ['OpaqueRef:vm', 'copy']);
  await new Promise((r) => setTimeout(r, 50));
  release();
  expect(await pending).toBe('OpaqueRef:new-vm');
  const asyncCall = pool.requests.find((r) => r.method === 'Async.VM.clone')!;
  expect(asyncCall.params.slice(1)).toEqual(['OpaqueRef:vm', 'copy']);
  // followed through events on task/<ref>, never by polling the task's fields
  const watched = pool.requests.filter((r) => r.method === 'event.from').map((r) => r.params[1]);
  expect(watched.length).toBeGreaterThanOrEqual(1);
  for (const classes of watched) expect(classes).toEqual([expect.stringMatching(/^task\/OpaqueRef:/)]);
  // task.get_status is only the existence check after a batch without the task (a vanished task, issue 12.10)
  expect(pool.requests.filter((r) => r.method.startsWith('task.get') && r.method !== 'task.get_status')).toEqual([]);
  expect(pool.calls('task.destroy')).toBe(1);
});

test('a void async result is ""', async () => {
  pool.on('host.evacuate', () => '');
  expect(await client.callAsync('host.evacuate', ['OpaqueRef:h'])).toBe('');
});

test("a failed task's error_info becomes XenApiError, and the task is destroyed", async () => {
  pool.on('host.evacuate', () => {
    throw new XapiFailure(['NO_HOSTS_AVAILABLE', 'OpaqueRef:vm1']);
  });
  const err = await client.callAsync('host.evacuate', ['OpaqueRef:h']).catch((e) => e);
  expect(err).toBeInstanceOf(XenApiError);
  expect(err).toMatchObject({ code: 'NO_HOSTS_AVAILABLE', params: ['OpaqueRef:vm1'], method: 'Async.host.evacuate' });
  expect(pool.calls('task.destroy')).toBe(1);
});

test('a cancelled task is a TASK_CANCELLED XenApiError', async () => {
  await client.login();
  const task = pool.createTask('Async.VM.start');
  setTimeout(() => pool.finishTask(task, { cancelled: true }), 20);
  await expect(client.waitForTask(task)).rejects.toMatchObject({ code: 'TASK_CANCELLED' });
});

test('a task already finished before the wait starts is seen at once (empty token returns its record)', async () => {
  await client.login();
  const task = pool.createTask('Async.VM.clone');
  pool.finishTask(task, { result: '<value>OpaqueRef:x</value>' });
  expect(await client.waitForTask(task)).toBe('OpaqueRef:x');
  expect(pool.calls('event.from')).toBe(1);
});

test('EVENTS_LOST while waiting: the wait restarts from a fresh token', async () => {
  await client.login();
  const task = pool.createTask('Async.VM.clone');
  pool.failEventsOnce = ['EVENTS_LOST'];
  setTimeout(() => pool.finishTask(task, { result: '<value>OpaqueRef:y</value>' }), 20);
  expect(await client.waitForTask(task)).toBe('OpaqueRef:y');
});

test('deadline: a task that never ends gives XenApiTimeoutError (on the clock), and is not destroyed', async () => {
  const clock = new FakeClock(1_000_000, 5_000); // every now() moves 5 s
  const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock, eventPollSeconds: 5 });
  try {
    await c.login();
    const task = pool.createTask('Async.host.evacuate');
    const deadlineMs = clock.now() + 30_000;
    const err = await c.waitForTask(task, { deadlineMs }).catch((e) => e);
    expect(err).toBeInstanceOf(XenApiTimeoutError);
    expect(err).not.toBeInstanceOf(XenApiError);
    expect(err.message).toContain(task);
    expect(pool.exists(task)).toBe(true);
    expect(pool.calls('event.from')).toBeLessThanOrEqual(7);
  } finally {
    c.close();
  }
});

test('a deadline given as a duration by mistake is named in the error', async () => {
  await client.login();
  const task = pool.createTask('Async.host.evacuate');
  await expect(client.waitForTask(task, { deadlineMs: 60_000 })).rejects.toThrow(/absolute time on the clock/);
});

describe('beforeDestroy (issue 16: a replica taken over while it followed a task sends nothing more)', () => {
  class TakenOver extends Error {}

  test('a task that succeeded is not destroyed when beforeDestroy refuses: its error is passed on, the task left', async () => {
    await client.login();
    const task = pool.createTask('Async.VM.pool_migrate');
    pool.finishTask(task, { result: '<value></value>' });
    const err = await client.waitForTask(task, { beforeDestroy: async () => Promise.reject(new TakenOver('another replica holds the lease')) }).catch((e) => e);
    expect(err).toBeInstanceOf(TakenOver);
    expect(pool.calls('task.destroy')).toBe(0);
    expect(pool.exists(task)).toBe(true);
  });

  test('a task that failed is not destroyed either when beforeDestroy refuses', async () => {
    pool.on('host.evacuate', () => {
      throw new XapiFailure(['NO_HOSTS_AVAILABLE', 'OpaqueRef:vm1']);
    });
    const err = await client.callAsync('host.evacuate', ['OpaqueRef:h'], { beforeDestroy: async () => Promise.reject(new TakenOver('aborted')) }).catch((e) => e);
    expect(err).toBeInstanceOf(TakenOver);
    expect(pool.calls('task.destroy')).toBe(0);
  });

  test('when beforeDestroy lets it, the task is destroyed after the check', async () => {
    const order: string[] = [];
    pool.on('VM.clone', () => 'OpaqueRef:new-vm');
    const result = await client.callAsync('VM.clone', ['OpaqueRef:vm', 'copy'], {
      beforeDestroy: async () => void order.push(`checked (destroyed: ${pool.calls('task.destroy')})`),
    });
    expect(result).toBe('OpaqueRef:new-vm');
    expect(order).toEqual(['checked (destroyed: 0)']);
    expect(pool.calls('task.destroy')).toBe(1);
  });
});

describe('keep: a task this client cannot show it created is followed, not destroyed', () => {
  test('a task that succeeded gives its result and stays for xapi to collect', async () => {
    await client.login();
    const task = pool.createTask('Async.VM.suspend');
    pool.finishTask(task, { result: '<value></value>' });
    await expect(client.waitForTask(task, { keep: true })).resolves.toBe('');
    expect(pool.calls('task.destroy')).toBe(0);
    expect(pool.exists(task)).toBe(true);
  });

  test('a task that failed gives its error and stays too', async () => {
    await client.login();
    const task = pool.createTask('Async.VM.suspend');
    pool.finishTask(task, { error: ['VM_NO_SUSPEND_SR', 'OpaqueRef:vm'] });
    await expect(client.waitForTask(task, { keep: true })).rejects.toMatchObject({ code: 'VM_NO_SUSPEND_SR' });
    expect(pool.calls('task.destroy')).toBe(0);
    expect(pool.exists(task)).toBe(true);
  });
});

test('a task result that cannot be read is an error that quotes no piece of the password', async () => {
  await client.login();
  const task = pool.createTask('Async.host.call_plugin');
  // a plugin that echoed its arguments, the password among them, into a result xapi could not encode properly
  pool.finishTask(task, { result: `<value>login ${pool.password.slice(0, 4)}&${pool.password.slice(4)}</value>` });
  const err = (await client.waitForTask(task).catch((e: unknown) => e)) as Error;
  expect(err.message).toMatch(/task .*: task result is not an XML-RPC value/);
  expect(err.message).not.toContain(pool.password.slice(4, 12));
});
