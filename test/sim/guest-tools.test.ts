/** Guests installing new XenServer Tools (R5.1, issue 15): control call, admin API, scenario timing; VM_guest_metrics and events. */
import { parseScenario, startAdminServer, startSimulator, type SimPool } from '../../src/sim';
import { fastClock, login, ok, until } from './helpers';

function scenario(versions: string[], extra: Record<string, unknown> = {}) {
  return parseScenario(
    {
      pool: { name: 'pool-g', password: 'pw-guest' },
      hosts: versions.map((v, i) => ({ name: `xs-g${i + 1}`, master: i === 0, productVersion: v, platformVersion: v === '7.6.0' ? '2.7.0' : '2.1.1' })),
      vms: [
        { name: 'timed', host: 'xs-g1', tools: '7.1.0', installsToolsAfterSeconds: 600, ...extra },
        { name: 'manual', host: 'xs-g1', tools: '7.1.0' },
        { name: 'off', host: null, power: 'Halted', tools: '7.1.0' },
      ],
    },
    'guest-tools-test',
  );
}

/** The host is powered off and on again on its current version (no upgrade). */
async function powerCycle(sim: SimPool, host: string): Promise<void> {
  const power = () => sim.hosts().find((h) => h.name === host)!.power;
  sim.control.powerOff(host);
  await until(() => power() === 'off', `${host} off`);
  sim.control.powerOn(host);
  await until(() => power() === 'on', `${host} on`);
}

async function guestTools(url: string, s: string, vm: string): Promise<{ version: Record<string, string>; upToDate: boolean; gm: string }> {
  const ref = (await ok(url, 'VM.get_by_name_label', [s, vm]))[0];
  const gm = await ok(url, 'VM.get_guest_metrics', [s, ref]);
  const rec = await ok(url, 'VM_guest_metrics.get_record', [s, gm]);
  return { version: rec.PV_drivers_version, upToDate: rec.PV_drivers_up_to_date, gm };
}

describe('simulator: guests report new Tools', () => {
  test('installGuestTools updates VM_guest_metrics and event.from reports the change', async () => {
    const sim = await startSimulator(scenario(['7.6.0', '7.6.0']), { clock: fastClock(), http: true });
    try {
      const url = sim.masterUrl;
      const s = await login(url, 'root', 'pw-guest');
      const before = await guestTools(url, s, 'manual');
      expect(before.version).toMatchObject({ major: '7', minor: '1', micro: '0' });
      expect(before.upToDate).toBe(false);
      const token = (await ok(url, 'event.from', [s, ['VM_guest_metrics'], '', 0.0])).token;
      expect(sim.control.installGuestTools('manual')).toEqual({ vm: 'manual', version: '7.6.0' });
      const after = await guestTools(url, s, 'manual');
      expect(after.version).toMatchObject({ major: '7', minor: '6', micro: '0' });
      expect(after.upToDate).toBe(true);
      const events = (await ok(url, 'event.from', [s, ['VM_guest_metrics'], token, 0.0])).events as Array<{ operation: string; ref: string }>;
      expect(events.some((e) => e.operation === 'mod' && e.ref === after.gm)).toBe(true);
      // refusals name what is wrong and change nothing
      expect(() => sim.control.installGuestTools('nope')).toThrow(/unknown VM "nope" \(known: timed, manual, off\)/);
      expect(() => sim.control.installGuestTools('off')).toThrow(/VM "off" is Halted: only a running guest installs Tools/);
      expect(() => sim.control.installGuestTools('timed', 'seven')).toThrow(/version: expected a version like 7\.6\.0/);
      expect((await guestTools(url, s, 'timed')).version).toMatchObject({ major: '7', minor: '1' });
    } finally {
      await sim.stop();
    }
  });

  // the timed install after a real upgrade is shown on a whole pool-a run: test/tools/after-run.test.ts
  test('installsToolsAfterSeconds: a host rebooting on the pool\'s start version is no upgrade: nothing installed', async () => {
    const sim = await startSimulator(scenario(['7.6.0', '7.6.0']), { clock: fastClock(), http: true });
    try {
      const url = sim.masterUrl;
      const s = await login(url, 'root', 'pw-guest');
      await powerCycle(sim, 'xs-g2');
      await fastClock().sleep(3600_000); // 600 simulated seconds pass in a few real milliseconds: wait far longer
      expect((await guestTools(url, s, 'timed')).version.minor).toBe('1');
    } finally {
      await sim.stop();
    }
  });

  test('no timed install while the pool is mixed (R5.3: Tools wait for the last host)', async () => {
    const sim = await startSimulator(scenario(['7.6.0', '7.1.1']), { clock: fastClock(), http: true });
    try {
      const url = sim.masterUrl;
      const s = await login(url, 'root', 'pw-guest');
      await powerCycle(sim, 'xs-g2');
      // 600 simulated seconds pass in a few real milliseconds at this scale: wait for far more than that
      const clock = fastClock();
      await clock.sleep(3600_000);
      expect((await guestTools(url, s, 'timed')).version.minor).toBe('1');
    } finally {
      await sim.stop();
    }
  });

  test('admin API: POST /pools/:pool/vms/:vm/install-tools', async () => {
    const sim = await startSimulator(scenario(['7.6.0', '7.6.0']), { clock: fastClock(), http: true });
    const admin = await startAdminServer([sim], { port: 0 });
    try {
      const post = (path: string, body: unknown) => fetch(`${admin.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      const good = await post('/pools/pool-g/vms/manual/install-tools', { version: '7.6.0' });
      expect(good.status).toBe(200);
      expect(await good.json()).toEqual({ ok: true, vm: 'manual', version: '7.6.0' });
      const unknown = await post('/pools/pool-g/vms/ghost/install-tools', {});
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: string }).error).toMatch(/unknown VM "ghost" in pool pool-g/);
      const bad = await post('/pools/pool-g/vms/manual/install-tools', { version: 'latest' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/body\.version: a version like 7\.6\.0/);
      const halted = await post('/pools/pool-g/vms/off/install-tools', {});
      expect(halted.status).toBe(409);
    } finally {
      await admin.stop();
      await sim.stop();
    }
  });
});
