/** Issue 12 point 7 on the simulator: automatic mode checks each host's RPU hotfix before the start (R3.9). */
import { ScaledClock } from '../../src/clock';
import { planLivePool } from '../../src/inventory/live-plan';
import { loadUpgradePaths } from '../../src/planner';
import { startSimulator, type ScenarioInput } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';

const REPO = 'http://repo.example.com/xenserver/7.6/';
const scenario = (rpuHotfixOnS2: boolean): ScenarioInput => ({
  pool: { name: 'rpu', password: 'pw' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1' },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', rpuHotfix: rpuHotfixOnS2 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  repositories: [{ url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' }],
});

async function planOf(s: ScenarioInput) {
  const clock = new ScaledClock(1000);
  const sim = await startSimulator(s, { clock });
  const client = new XenApiClient({ url: sim.masterUrl, username: 'root', password: 'pw', tls: sim.tls, clock });
  try {
    return (await planLivePool(client, { pool: 'rpu', target: '7.6', mode: 'automatic', returnPolicy: 'none', paths: loadUpgradePaths(), repositoryUrl: REPO }, clock)).plan;
  } finally {
    client.close();
    await sim.stop();
  }
}

test('a host without RPU004 blocks the automatic plan with the way out; with it on every host, nothing is said', async () => {
  const blocked = await planOf(scenario(false));
  const c = blocked.prechecks.find((p) => p.id === 'rpu-hotfix')!;
  expect(c).toMatchObject({ severity: 'blocker', rule: 'R3.9', subjects: { hosts: ['s2'] } });
  expect(c.message).toMatch(/RPU004 missing on s2/);
  expect(blocked.executable).toBe(false);

  const ok = await planOf(scenario(true));
  expect(ok.prechecks.filter((p) => p.id.startsWith('rpu-hotfix'))).toEqual([]);
  expect(ok.executable).toBe(true);
});
