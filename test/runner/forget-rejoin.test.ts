/**
 * Forget & rejoin verifies the new host before trusting it (R4.2, issue 10 points 1-3), on the simulator over HTTPS
 * with every host's certificate pinned (the harness default): the reinstalled host's NEW certificate is confirmed
 * by fingerprint; nothing is forgotten and no credential is sent before that host is verified; a wrong address can
 * be corrected until the join succeeded; VMs on the old host's local storage are reported lost (issue 11.8).
 */
import { createTestCa, hostCertificate, type TestCa } from '../../src/sim';
import { createCore } from '../../src/core';
import { silentLogger } from '../../src/log';
import { XenApiClient } from '../../src/xenapi';
import { PIN_MISMATCH } from '../../src/xenapi/tls';
import { recordingNotifier } from './helpers';
import { startFakePool, seedPool, type FakePool } from '../xenapi/helpers/fake-pool';
import { APPROVER, REQUESTER, planAndStart, startHarness, waitForRun, type Harness } from './sim-harness';

/** pool-a in automatic mode whose install on `host` fails (the host never comes back; 90 minutes' wait) */
const installFailsOn = (host: string) =>
  startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host, when: 'before', times: 1 }], pool: { hostTimeoutMinutes: 90 } });

async function runUntilFailure(h: Harness) {
  const run = await planAndStart(h);
  const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
  return { run, failed, step: failed.steps.find((s) => s.state === 'failed')! };
}

const lastAlert = (h: Harness) => h.notifier.calls.filter((c) => c.method === 'stepFailed').pop()!;
const inPool = (h: Harness, name: string) => h.sim.hosts().find((x) => x.name === name)!.inPool;

/** Does the pool still hold this host record (read through a client of our own)? A reinstalled machine is not in
 * the pool any more, but its old record stays until host.destroy. */
async function hasRecord(h: Harness, ref: string): Promise<boolean> {
  const c = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls });
  try {
    return ref in (await c.getAllRecords('host'));
  } finally {
    await c.logout();
  }
}

/**
 * A machine that is NOT the reinstalled member, on 127.0.0.2 at the simulator's port: HTTPS with its own certificate,
 * answering like a fresh stand-alone 7.6 host and recording every request it receives.
 */
async function impostor(h: Harness, opts: { acceptsJoin?: boolean; ca?: TestCa } = {}): Promise<{ fake: FakePool; address: string; fingerprint256: string }> {
  const address = '127.0.0.2';
  const cert = await hostCertificate('impostor', address, { ca: opts.ca });
  const fake = await startFakePool({ hosts: 1, base: '127.0.0', port: h.sim.port, tls: { key: cert.key, cert: cert.cert }, password: h.sim.password });
  seedPool(fake);
  const hostRef = fake.master.ref;
  fake.mod('host', hostRef, { software_version: { product_version: '7.6.0', platform_version: '2.7.0', build_number: 'release/lima/master/36' } });
  if (opts.acceptsJoin) fake.on('pool.join', () => '');
  return { fake, address, fingerprint256: cert.fingerprint256 };
}

describe('forget & rejoin verifies the new host before trusting it (R4.2)', () => {
  it('pinned pool: the reinstalled host is probed, its new fingerprint confirmed, then verified, forgotten and joined; its local-storage VM is reported lost', async () => {
    const h = await installFailsOn('xs-a2');
    try {
      expect(h.pool.tls).toMatchObject({ mode: 'pinned' }); // the harness runs over HTTPS with every host pinned
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a2:wait-host');
      expect(lastAlert(h).actions).toEqual(['retry', 'forget-rejoin', 'skip-host', 'abort']);

      // no address: refused, nothing forgotten
      expect(await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id }, APPROVER)).toMatchObject({ ok: false, code: 'invalid' });
      expect(inPool(h, 'xs-a2')).toBe(true);

      const fresh = h.sim.control.reinstallFresh('xs-a2');
      const { fingerprint256 } = await fresh.ready;
      const oldPins = [h.pool.tls.mode === 'pinned' ? h.pool.tls.fingerprint256 : []].flat();
      expect(oldPins).not.toContain(fingerprint256); // a fresh install has a new certificate

      // an address but no confirmed fingerprint: refused over https, nothing done
      const unconfirmed = await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address }, APPROVER);
      expect(unconfirmed).toMatchObject({ ok: false, code: 'invalid' });
      expect(unconfirmed.ok ? '' : unconfirmed.error).toMatch(/fingerprint256: confirm the certificate/);

      // the probe only reads: the fingerprint the host presents, and the VMs lost with the old host's local storage
      const probe = await h.core.probeNewHost(run.id, step.id, fresh.address, APPROVER);
      if (!probe.ok) throw new Error(probe.error);
      expect(probe.value.certificate).toMatchObject({ fingerprint256, subject: 'CN=xs-a2', selfSigned: true });
      expect(probe.value.lostVms).toEqual(['vm-licence-srv']);
      expect(await hasRecord(h, step.host!)).toBe(true);
      // the requester is no approver: the probe is refused like the action itself
      expect(await h.core.probeNewHost(run.id, step.id, fresh.address, REQUESTER)).toMatchObject({ ok: false, code: 'forbidden' });

      const join = await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER);
      expect(join.ok).toBe(true);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      expect(h.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0' && x.inPool)).toBe(true);
      // the rejoined member's confirmed certificate is kept with the run (trusted again after a restart)
      expect(done.steps.find((s) => s.id === step.id)!.data!.replaced).toMatchObject({ fingerprint256 });
      // issue 11.8: its disk was on xs-a2's local storage, which went with the reinstall: lost, never "running again"
      expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!.powerState).not.toBe('Running');
      expect(done.outcome).toMatch(/vm-licence-srv.*its disks were on the local storage of xs-a2, which was reinstalled/);
      expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /vm-licence-srv.*running again/.test(JSON.stringify(c)))).toBe(false);

      const audit = await h.store.listAudit(run.id);
      const order = audit.map((e) => e.message);
      const verified = order.findIndex((m) => /^verified the reinstalled host before forgetting xs-a2/.test(m));
      const forgot = order.findIndex((m) => /^host\.destroy xs-a2/.test(m));
      const joined = order.findIndex((m) => /^pool\.join on/.test(m));
      expect(verified).toBeGreaterThanOrEqual(0);
      expect(forgot).toBeGreaterThan(verified);
      expect(joined).toBeGreaterThan(forgot);
      expect(JSON.stringify(audit)).not.toContain(h.sim.password);

      // pinned pool: the rejoined member's certificate was not in the configured pins; the bot trusts it from now on,
      // also after a restart (the pin is kept with the run): a client of a new core reaching the pool through xs-a2
      // (HOST_IS_SLAVE to the master) passes both certificates
      const viaNewMember = { ...h.pool, masterUrl: fresh.url };
      const stale = new XenApiClient({ url: fresh.url, username: h.sim.username, password: h.sim.password, tls: h.pool.tls });
      await expect(stale.login()).rejects.toMatchObject({ code: PIN_MISMATCH });
      stale.close();
      let restarted: XenApiClient | undefined;
      const again = await createCore({
        pools: [viaNewMember],
        store: h.store,
        notifier: recordingNotifier(),
        clock: h.clock,
        logger: silentLogger,
        env: { XS_SIM_PASSWORD: h.sim.password, XSUPGRADE_BACKUPS: h.dir },
        ownerId: 'after-restart',
        clientFactory: (p) => (restarted = new XenApiClient({ url: p.masterUrl, username: p.username, password: h.sim.password, tls: p.tls, clock: h.clock })),
      });
      try {
        await again.listPools();
        await restarted!.login();
        expect(restarted!.masterAddress).toBe(h.sim.hosts().find((x) => x.role === 'master')!.address);
      } finally {
        await again.shutdown();
      }
    } finally {
      await h.close();
    }
  });

  it('plain HTTP pool (tls: insecure-http): no certificate to confirm, the dialog says so; the host is still verified before the forget', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      http: true,
      faults: [{ kind: 'install-fails', host: 'xs-a3', when: 'before', times: 1 }],
      pool: { hostTimeoutMinutes: 90 },
    });
    try {
      expect(h.pool.tls).toEqual({ mode: 'insecure-http' });
      const { run, step } = await runUntilFailure(h);
      const fresh = h.sim.control.reinstallFresh('xs-a3');
      expect(await fresh.ready).toEqual({});
      const probe = await h.core.probeNewHost(run.id, step.id, fresh.address, APPROVER);
      if (!probe.ok) throw new Error(probe.error);
      expect(probe.value.certificate).toBeUndefined();
      expect(probe.value.lostVms).toEqual([]);
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address }, APPROVER)).ok).toBe(true);
      expect((await waitForRun(h.store, run.id, ['done', 'failed'])).state).toBe('done');
      const audit = (await h.store.listAudit(run.id)).map((e) => e.message);
      expect(audit.findIndex((m) => /plain http: identity not verifiable/.test(m))).toBeLessThan(audit.findIndex((m) => /^host\.destroy xs-a3/.test(m)));
    } finally {
      await h.close();
    }
  });

  it('the answer to host.destroy lost after xapi forgot the host: the pool is read again and the rejoin goes on, host.destroy sent once', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      http: true,
      faults: [
        { kind: 'install-fails', host: 'xs-a3', when: 'before', times: 1 },
        { kind: 'connection-reset', method: 'host.destroy', when: 'after' },
      ],
      pool: { hostTimeoutMinutes: 90 },
    });
    try {
      const { run, step } = await runUntilFailure(h);
      const fresh = h.sim.control.reinstallFresh('xs-a3');
      expect(await fresh.ready).toEqual({});
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address }, APPROVER)).ok).toBe(true);
      expect((await waitForRun(h.store, run.id, ['done', 'failed'])).state).toBe('done');
      expect(inPool(h, 'xs-a3')).toBe(true);
      const audit = (await h.store.listAudit(run.id)).map((e) => e.message);
      expect(audit.filter((m) => /^host\.destroy xs-a3/.test(m))).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('the old address of a host that was not reinstalled: nothing is forgotten, nothing sent, and Retry is still offered', async () => {
    const h = await installFailsOn('xs-a3');
    try {
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a3:wait-host');
      const oldAddress = h.sim.hosts().find((x) => x.name === 'xs-a3')!.address;
      // the probe finds nobody there: refused with the reason, changing nothing
      const probe = await h.core.probeNewHost(run.id, step.id, oldAddress, APPROVER);
      expect(probe).toMatchObject({ ok: false, code: 'invalid' });
      expect(probe.ok ? '' : probe.error).toMatch(/cannot reach .*ECONNREFUSED.*Nothing was done/);
      // even with some fingerprint pushed through the core API, the verification fails before the forget
      const res = await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: oldAddress, fingerprint256: 'AB:'.repeat(31) + 'AB' }, APPROVER);
      expect(res.ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      const s = failed.steps.find((x) => x.id === step.id)!;
      expect(s.state).toBe('failed');
      expect(s.error!.message).toMatch(/not verified.*Nothing was forgotten and pool\.join was not sent/);
      expect(inPool(h, 'xs-a3')).toBe(true);
      expect(lastAlert(h).actions).toEqual(['retry', 'forget-rejoin', 'skip-host', 'abort']);
      const audit = await h.store.listAudit(run.id);
      expect(audit.some((e) => /^host\.destroy/.test(e.message) || /^pool\.join/.test(e.message))).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('an address that is not the reinstalled member (a fake XenAPI server): with the real host\'s fingerprint it receives no request, no credential, no pool.join', async () => {
    const h = await installFailsOn('xs-a3');
    const imp = await impostor(h, { acceptsJoin: true });
    try {
      const { run, step } = await runUntilFailure(h);
      const fresh = h.sim.control.reinstallFresh('xs-a3');
      const { fingerprint256: realFp } = await fresh.ready;
      // the dialog would show the impostor's own certificate, not the one on xs-a3's console
      const probe = await h.core.probeNewHost(run.id, step.id, imp.address, APPROVER);
      if (!probe.ok) throw new Error(probe.error);
      expect(probe.value.certificate!.fingerprint256).toBe(imp.fingerprint256);
      expect(probe.value.certificate!.fingerprint256).not.toBe(realFp);
      // the approver confirms the fingerprint read on xs-a3's console while the address is the impostor's
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: imp.address, fingerprint256: realFp! }, APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      expect(failed.steps.find((x) => x.id === step.id)!.error).toMatchObject({ code: 'NEW_HOST_CERTIFICATE_MISMATCH' });
      expect(imp.fake.requests).toEqual([]); // refused at the TLS handshake: nothing written, no credential
      expect(await hasRecord(h, step.host!)).toBe(true);
      expect(lastAlert(h).actions).toContain('retry');

      // the address corrected: the real host is verified, forgotten and joined
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256: realFp! }, APPROVER)).ok).toBe(true);
      expect((await waitForRun(h.store, run.id, ['done', 'failed'])).state).toBe('done');
      expect(imp.fake.requests).toEqual([]);
    } finally {
      await Promise.all(imp.fake.hosts.map((x) => new Promise((r) => x.server.close(r))));
      await h.close();
    }
  });

  it('verify-mode pool: a machine with a certificate the pool\'s CA trusts is still refused unless its own fingerprint was confirmed', async () => {
    const ca = await createTestCa();
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { ca, faults: [{ kind: 'install-fails', host: 'xs-a3', when: 'before', times: 1 }], pool: { hostTimeoutMinutes: 90 } });
    const imp = await impostor(h, { acceptsJoin: true, ca });
    try {
      expect(h.pool.tls).toEqual({ mode: 'verify', ca: ca.cert });
      const { run, step } = await runUntilFailure(h);
      const fresh = h.sim.control.reinstallFresh('xs-a3');
      const { fingerprint256 } = await fresh.ready;
      // before: verify mode let any host with a trusted certificate through; now only the confirmed certificate counts
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: imp.address, fingerprint256 }, APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      expect(failed.steps.find((x) => x.id === step.id)!.error).toMatchObject({ code: 'NEW_HOST_CERTIFICATE_MISMATCH' });
      expect(imp.fake.requests).toEqual([]);
      expect(await hasRecord(h, step.host!)).toBe(true);
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER)).ok).toBe(true);
      expect((await waitForRun(h.store, run.id, ['done', 'failed'])).state).toBe('done');
      expect(imp.fake.requests).toEqual([]);
    } finally {
      await Promise.all(imp.fake.hosts.map((x) => new Promise((r) => x.server.close(r))));
      await h.close();
    }
  });

  it('a wrong address corrected during the wait for the new member leads to the join of the right host', async () => {
    const h = await installFailsOn('xs-a3');
    const imp = await impostor(h, { acceptsJoin: true });
    try {
      const { run, step } = await runUntilFailure(h);
      const waitedFrom = h.clock.now();
      // the approver confirmed the impostor's certificate by mistake: it passes for a fresh 7.6 host and "accepts" the join
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: imp.address, fingerprint256: imp.fingerprint256 }, APPROVER)).ok).toBe(true);
      const waited = await waitForRun(h.store, run.id, ['failed']);
      const s = waited.steps.find((x) => x.id === step.id)!;
      // no host record appeared at that address after the join: the step fails at once (not after the install
      // timeout) and says the address may be wrong
      expect(s.error).toMatchObject({ code: 'JOINED_HOST_NOT_SEEN', message: expect.stringMatching(/no host with that address appeared.*may be wrong/) });
      expect((s.data!.recovery as { phase: string }).phase).toBe('wait-member');
      expect(h.clock.now() - waitedFrom).toBeLessThan(90 * 60_000); // the simulated clock: well before the 90 min host timeout
      expect(imp.fake.calls('Async.pool.join')).toBe(1); // the slow join goes through Async (issue 12.1)
      expect(await hasRecord(h, step.host!)).toBe(false); // forgotten: only a corrected forget-rejoin or abort remain
      expect(lastAlert(h).actions).toEqual(['forget-rejoin', 'abort']);

      const fresh = h.sim.control.reinstallFresh('xs-a3');
      const { fingerprint256 } = await fresh.ready;
      const probe = await h.core.probeNewHost(run.id, step.id, fresh.address, APPROVER);
      if (!probe.ok) throw new Error(probe.error);
      expect(probe.value.certificate!.fingerprint256).toBe(fingerprint256);
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER)).ok).toBe(true);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      expect(h.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0' && x.inPool)).toBe(true);
      const audit = await h.store.listAudit(run.id);
      expect(audit.filter((e) => /^host\.destroy xs-a3/.test(e.message))).toHaveLength(1);
      expect(audit.filter((e) => /^pool\.join on \S+ → master/.test(e.message)).map((e) => e.message)).toEqual([
        expect.stringContaining(`pool.join on ${imp.address}`),
        expect.stringContaining(`pool.join on ${fresh.address}`),
      ]);
    } finally {
      await Promise.all(imp.fake.hosts.map((x) => new Promise((r) => x.server.close(r))));
      await h.close();
    }
  });

  it('a host that is not a fresh install of the target (a pool member elsewhere, another version) is refused before anything is forgotten', async () => {
    const h = await installFailsOn('xs-a3');
    const imp = await impostor(h);
    try {
      const { run, step } = await runUntilFailure(h);
      imp.fake.mod('host', imp.fake.master.ref, { software_version: { product_version: '7.1.1', platform_version: '2.1.1' } });
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: imp.address, fingerprint256: imp.fingerprint256 }, APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      expect(failed.steps.find((x) => x.id === step.id)!.error).toMatchObject({ code: 'NEW_HOST_WRONG_VERSION' });
      expect(imp.fake.calls('pool.join') + imp.fake.calls('Async.pool.join')).toBe(0);
      expect(inPool(h, 'xs-a3')).toBe(true);
      expect(lastAlert(h).actions).toEqual(['retry', 'forget-rejoin', 'skip-host', 'abort']);
    } finally {
      await Promise.all(imp.fake.hosts.map((x) => new Promise((r) => x.server.close(r))));
      await h.close();
    }
  });
});
