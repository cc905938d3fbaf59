/**
 * `xsupgrade resume` against a fake console core (openConsoleCore mocked): what reaches Core for bad input.
 */
import type { Run } from '../../src/domain/types';
import { sampleRun } from '../store/fixtures/sample';

const calls = { recover: [] as unknown[], resume: [] as unknown[], probe: [] as unknown[] };
let probeValue: unknown;
let theRun: Run;

jest.mock('../../src/core/console', () => {
  const actual = jest.requireActual('../../src/core/console');
  return {
    ...actual,
    openConsoleCore: jest.fn(async () => ({
      core: {
        getRun: async () => theRun,
        // refused so that the command ends without driving anything
        recover: async (...a: unknown[]) => (calls.recover.push(a), { ok: false, code: 'invalid', error: 'refused by fake core' }),
        resume: async (...a: unknown[]) => (calls.resume.push(a), { ok: false, code: 'invalid', error: 'refused by fake core' }),
        probeNewHost: async (...a: unknown[]) => (calls.probe.push(a), { ok: true, value: probeValue }),
      },
      store: { getLease: async () => undefined },
      notifier: { until: () => new Promise(() => undefined) },
      clock: { now: () => 0 },
      ownerId: 'test',
      close: async () => undefined,
    })),
  };
});

import { run as resume } from '../../src/cli/resume';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err, restore: () => (log.mockRestore(), error.mockRestore()) };
}

const failedRun = (): Run =>
  sampleRun('pool-a-20261128-1', {
    state: 'failed',
    steps: [{ id: 'xs-a2:wait-host', kind: 'wait-host', state: 'failed', attempts: 1, host: 'OpaqueRef:xs-a2', hostName: 'xs-a2' } as Run['steps'][number]],
  });

beforeEach(() => {
  calls.recover = [];
  calls.resume = [];
  calls.probe = [];
  theRun = failedRun();
});

describe('xsupgrade resume --action forget-rejoin (found by review)', () => {
  test('a typed fingerprint with one hex digit too many (65) is refused, not silently cut to its first 64', async () => {
    const fp64 = 'AB'.repeat(32);
    const c = capture();
    let code: number;
    try {
      code = await resume([theRun.id, '--action', 'forget-rejoin', '--address', '10.0.0.9', '--fingerprint', `${fp64}C`]);
    } finally {
      c.restore();
    }
    // what reached Core is not what was typed: the CLI dropped the odd digit and the core's 32-pair check passes
    const pinned = (calls.recover[0] as [string, { fingerprint256?: string }] | undefined)?.[1]?.fingerprint256;
    expect(pinned === undefined || pinned.replace(/:/g, '') === `${fp64}C`).toBe(true);
    expect(code).toBe(1);
  });

  test('plain http: after printing "Nothing was done … run again", nothing is done in this invocation', async () => {
    probeValue = { certificate: undefined, lostVms: ['db-1'] };
    const c = capture();
    try {
      await resume([theRun.id, '--action', 'forget-rejoin', '--address', '10.0.0.9']);
    } finally {
      c.restore();
    }
    const said = c.out.join('\n');
    expect(said).toMatch(/Nothing was done/);
    // the CLI said nothing was done and asked to run again, yet forgot the old host (losing db-1) right away
    expect(calls.recover).toHaveLength(0);
    expect(said).toMatch(/run again with --plain-http/);
  });

  test('plain http, run again with --plain-http: the forget & rejoin goes to Core, with the address and no fingerprint', async () => {
    const c = capture();
    try {
      await resume([theRun.id, '--action', 'forget-rejoin', '--address', '10.0.0.9', '--plain-http']);
    } finally {
      c.restore();
    }
    expect(calls.probe).toHaveLength(0);
    expect(calls.recover).toEqual([[theRun.id, { action: 'forget-rejoin', stepId: 'xs-a2:wait-host', address: '10.0.0.9' }, expect.anything()]]);
  });

  test('a fingerprint typed with colons or without separators reaches Core as AB:CD:…', async () => {
    const c = capture();
    try {
      await resume([theRun.id, '--action', 'forget-rejoin', '--address', '10.0.0.9', '--fingerprint', 'ab'.repeat(32)]);
    } finally {
      c.restore();
    }
    expect((calls.recover[0] as [string, { fingerprint256?: string }])[1].fingerprint256).toBe(Array(32).fill('AB').join(':'));
  });
});

describe('xsupgrade resume with recovery options but no --action', () => {
  test('--step/--address without --action is refused, not taken as a plain resume', async () => {
    theRun = sampleRun('pool-a-20261128-2', { state: 'paused' });
    const c = capture();
    let code: number;
    try {
      code = await resume([theRun.id, '--step', 'xs-a2:wait-host', '--address', '10.0.0.9']);
    } finally {
      c.restore();
    }
    expect(calls.resume).toHaveLength(0);
    expect(code).toBe(1);
  });
});
