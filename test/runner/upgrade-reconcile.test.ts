/** The upgrade step after a restart with "shutdown issued" recorded: it decides from the pool, never by re-sending. */
import { XenApiConnectionError } from '../../src/xenapi';
import { createUpgradeStep } from '../../src/runner/steps/upgrade';
import { withoutUrlCredentials } from '../../src/xenapi/redact';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { fastClock, makePlan, makeRun, recordingNotifier } from './helpers';
import { silentLogger } from '../../src/log';

function setup(client: Partial<StepDeps['client']>) {
  const run = makeRun(makePlan(['h1', 'h2']));
  const step = run.steps.find((s) => s.id === 'h2:upgrade')!;
  step.data = { shutdownIssued: true, method: 'host.reboot', bootTimeBefore: '1000.0' };
  const sent: string[] = [];
  const ctx = {
    run,
    step,
    planStep: run.plan.steps.find((s) => s.id === 'h2:upgrade')!,
    hostPlan: run.plan.hosts[1],
    signal: new AbortController().signal,
    resolveHost: (r: string) => r,
    act: async (method: string) => {
      sent.push(method);
    },
    audit: async () => undefined,
    say: async () => undefined,
    saveData: async () => undefined,
    checkpoint: async () => undefined,
    dataOf: () => undefined,
  } as unknown as StepContext;
  const deps = {
    client: client as StepDeps['client'],
    clock: fastClock(),
    config: { pollMs: 10_000 },
    notifier: recordingNotifier(),
    logger: silentLogger,
  } as unknown as StepDeps;
  return { ctx, deps, sent };
}

describe('upgrade step: reconciling a recorded shutdown', () => {
  it('an unreachable pool is not evidence that the shutdown never went out: the step fails and nothing is re-sent', async () => {
    const down = async () => {
      throw new XenApiConnectionError('cannot reach 10.0.0.1: ECONNREFUSED', '10.0.0.1', 'host.get_all_records', 'ECONNREFUSED');
    };
    const { ctx, deps, sent } = setup({ call: down, getAllRecords: down } as Partial<StepDeps['client']>);
    await expect(createUpgradeStep(deps).execute(ctx)).rejects.toMatchObject({ code: 'SHUTDOWN_UNKNOWN' });
    expect(sent).toEqual([]);
  });
});

describe('upgrade step: repository credentials', () => {
  it('are removed from any URL a plugin error echoes', () => {
    expect(withoutUrlCredentials('INVALID_URL http://repo-user:s3cret@repo.example/xs76/ unreachable')).toBe(
      'INVALID_URL http://[redacted]@repo.example/xs76/ unreachable',
    );
    expect(withoutUrlCredentials('ftp://u:p@h/a and nfs://server:/path/')).toBe('ftp://[redacted]@h/a and nfs://server:/path/');
  });
});
