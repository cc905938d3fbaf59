/**
 * `xsupgrade resume <run> --action forget-rejoin --address <a>` (R4.2) on the terminal: without --fingerprint it only
 * looks at the address, prints the certificate there and changes nothing; with the fingerprint read on the host's
 * console it forgets, rejoins and drives the run to its end.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { run as resume } from '../../src/cli/resume';
import { createCore } from '../../src/core';
import { silentLogger } from '../../src/log';
import { openStore } from '../../src/store';
import { XenApiClient } from '../../src/xenapi';
import { recordingNotifier } from './helpers';
import { APPROVER, planAndStart, startHarness, waitForRun } from './sim-harness';

function captureConsole() {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  return { lines, restore: () => (log.mockRestore(), err.mockRestore()) };
}

it('resume --action forget-rejoin: shows the certificate first, acts only with the confirmed fingerprint', async () => {
  const saved = { ...process.env };
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    faults: [{ kind: 'install-fails', host: 'xs-a3', when: 'before', times: 1 }],
    pool: { hostTimeoutMinutes: 90 },
  });
  const state = join(h.dir, 'state.sqlite');
  let out: ReturnType<typeof captureConsole> | undefined;
  try {
    // the run that failed, in a state file the CLI opens
    const store = await openStore({ path: state, clock: h.clock });
    const env = { XS_SIM_PASSWORD: h.sim.password, XSUPGRADE_BACKUPS: join(h.dir, 'backups') };
    const notifier = recordingNotifier({ approvalNeeded: async (r, s) => void (await core.approve(r.id, s.id, APPROVER)) });
    const core = await createCore({ pools: [h.pool], store, notifier, clock: h.clock, logger: silentLogger, env, ownerId: 'first', leaseTtlMs: 60_000, pollMs: 2000 });
    const run = await planAndStart({ ...h, core, store });
    const failed = await waitForRun(store, run.id, ['failed', 'done']);
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-a3:wait-host');
    await core.shutdown();
    await store.close();

    const fresh = h.sim.control.reinstallFresh('xs-a3');
    const { fingerprint256 } = await fresh.ready;
    writeFileSync(join(h.dir, 'pools.yaml'), YAML.stringify({ pools: [h.pool] }));
    Object.assign(process.env, { XSUPGRADE_POOLS: join(h.dir, 'pools.yaml'), XSUPGRADE_STATE: state, XSUPGRADE_LOG_LEVEL: 'silent', ...env });

    out = captureConsole();
    expect(await resume([run.id, '--action', 'forget-rejoin', '--address', fresh.address])).toBe(1);
    const looked = out.lines.join('\n');
    expect(looked).toContain(`${fresh.address} presents a certificate with SHA-256 fingerprint\n  ${fingerprint256}`);
    expect(looked).toMatch(/Nothing was done\. Compare the fingerprint with the host's console, then run again with --fingerprint/);
    const c = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls });
    expect(Object.keys(await c.getAllRecords('host'))).toContain(step.host); // not forgotten
    await c.logout();

    out.lines.length = 0;
    // typed as a console prints it, lower-case without colons: accepted as the same fingerprint
    expect(await resume([run.id, '--action', 'forget-rejoin', '--address', fresh.address, '--fingerprint', fingerprint256!.replace(/:/g, '').toLowerCase()])).toBe(0);
    expect(h.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0' && x.inPool)).toBe(true);
  } finally {
    out?.restore();
    process.env = saved;
    await h.close();
  }
});
