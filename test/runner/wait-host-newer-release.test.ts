/**
 * wait-host with a host that comes back from its upgrade on a newer release than the plan's target. The plan for
 * "7.6" tests the repository with prepare_host_upgrade.py testUrl, which refuses an OLDER repository (INVALID_VER,
 * reference L1) but passes a newer one; a repository URL that holds a newer release therefore takes the master to
 * that release. The step fails (not the approved upgrade), and says what it observed: the host was upgraded, to a
 * newer release than planned, never "the upgrade did not apply".
 */
import { planAndStart, startHarness, waitForRun } from './sim-harness';

jest.setTimeout(120_000);

it('a master that comes back on a newer release than planned is not reported as "the upgrade did not apply"', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    edit: (s) => {
      const repo = s.repositories.find((r) => r.url.endsWith('/7.6/'))!;
      Object.assign(repo, { version: '8.0.0', platform: '3.0.0', build: 'release/naples/master/80' });
    },
  });
  try {
    const run = await planAndStart(h);
    expect(run.plan.target.product).toBe('7.6.0');
    const failed = await waitForRun(h.store, run.id, ['failed', 'done', 'aborted'], 60_000);
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-a1:wait-host');
    // what the pool shows: the master WAS upgraded, to 8.0.0, from 7.1.1
    expect(h.sim.hosts().find((x) => x.name === 'xs-a1')!.productVersion).toBe('8.0.0');
    expect(step.error!.message).toMatch(/8\.0\.0/);
    expect(step.error!.message).toMatch(/a newer release than the plan's target 7\.6\.0/);
    expect(step.error!.message).not.toMatch(/did not apply/);
    expect(step.error!.code).toBe('UNPLANNED_VERSION'); // the bot's conclusion, not 'the upgrade did not apply'
  } finally {
    await h.close();
  }
});
