/**
 * host.reboot/host.shutdown show in host.current_operations (task ref → "reboot"/"shutdown") until the host is down,
 * as real xapi does while it prepares the power-off (reference C4); the upgrade step reads them to follow a power
 * operation whose answer was lost instead of sending it again.
 */
import { startSimulator, ScenarioInput, SimPool } from '../../src/sim';
import { fastClock, login, ok, until } from './helpers';

const scenario: ScenarioInput = {
  pool: { name: 'ops', password: 'pw' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
  ],
  srs: [],
  vms: [],
  repositories: [],
  timings: { shutdownSeconds: 600, bootSeconds: 200, xapiStartSeconds: 200 },
};

const host = (sim: SimPool, name: string) => sim.hosts().find((h) => h.name === name)!;

test('a reboot is in host.current_operations while the host goes down, and gone once it is back', async () => {
  const sim = await startSimulator(scenario, { clock: fastClock(20000) });
  try {
    const s = await login(sim.masterUrl, 'root', 'pw');
    const s2 = host(sim, 's2').ref;
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    const during = (await ok(sim.masterUrl, 'host.get_current_operations', [s, s2])) as Record<string, string>;
    expect(Object.values(during)).toEqual(['reboot']);
    await until(() => host(sim, 's2').power === 'on' && host(sim, 's2').enabled, 's2 back and enabled', 5000);
    expect(await ok(sim.masterUrl, 'host.get_current_operations', [s, s2])).toEqual({});
  } finally {
    await sim.stop();
  }
});
