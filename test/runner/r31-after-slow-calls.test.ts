/**
 * R3.1 (one host offline at a time) is checked on the pool as it is just before a host is taken down, not only
 * before the minutes of preparation that come first: prepare_host_upgrade.py main (automatic mode) and a host's
 * hotfixes (R3.10: precheck and apply of each). A member that fails or is shut down meanwhile stops the reboot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/sim';
import { writeHotfixRepository } from '../../src/sim/hotfixes';
import { planAndStart, startHarness, waitForRun, type Harness } from './sim-harness';

jest.setTimeout(120_000);

/** Powers off the first other member (not the master) once `label` matches a checkpoint of a member's step. */
function powerOffDuring(pattern: RegExp, members: string[], h: () => Harness): { checkpoint: (label: string) => Promise<void>; target(): string | undefined } {
  let target: string | undefined;
  return {
    checkpoint: async (label) => {
      const m = pattern.exec(label);
      if (!m || target) return;
      target = m[1];
      h().sim.control.powerOff(members.find((x) => x !== target)!);
    },
    target: () => target,
  };
}

it('a member that goes down while prepare_host_upgrade.py main runs on another host stops that host\'s reboot (R3.1)', async () => {
  let h: Harness | undefined;
  const during = powerOffDuring(/^(xs-a[23]):upgrade:did:Async\.host\.call_plugin$/, ['xs-a2', 'xs-a3'], () => h!);
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: { hostTimeoutMinutes: 60 }, checkpoint: during.checkpoint });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
    const target = during.target();
    expect(target).toBeDefined();
    const failed = end.steps.find((s) => s.state === 'failed')!;
    expect({ end: end.state, failedAt: failed.id }).toEqual({ end: 'failed', failedAt: `${target}:upgrade` });
    expect(failed.error!.message).toMatch(/R3\.1/);
    const audit = await h.store.listAudit(run.id);
    expect(audit.filter((a) => a.kind === 'xenapi' && a.message.startsWith(`host.reboot ${target}`))).toHaveLength(0);
  } finally {
    await h.close();
  }
});

it('a member that goes down while another host\'s hotfixes are applied stops that host\'s reboot for them (R3.1, R3.10)', async () => {
  const sc = loadScenario('manifests/demo/pool-h.yaml');
  const repo = writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-r31-')));
  let h: Harness | undefined;
  const during = powerOffDuring(/^(xs-h[23]):apply-updates:did:Async\.pool_update\.apply$/, ['xs-h2', 'xs-h3'], () => h!);
  h = await startHarness('manifests/demo/pool-h.yaml', 'automatic', { pool: { updateRepository: repo, hostTimeoutMinutes: 60 }, checkpoint: during.checkpoint });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 90_000);
    const target = during.target();
    expect(target).toBeDefined();
    const failed = end.steps.find((s) => s.state === 'failed')!;
    expect({ end: end.state, failedAt: failed.id }).toEqual({ end: 'failed', failedAt: `${target}:apply-updates` });
    expect(failed.error!.message).toMatch(/R3\.1/);
    const audit = await h.store.listAudit(run.id);
    // the upgrade's reboot happened before; the hotfixes' reboot must not
    const reboots = audit.filter((a) => a.kind === 'xenapi' && a.message.startsWith(`host.reboot ${target}`) && a.detail?.step === `${target}:apply-updates`);
    expect(reboots).toHaveLength(0);
  } finally {
    await h.close();
    rmSync(repo, { recursive: true, force: true });
  }
});
