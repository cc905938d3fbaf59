/**
 * Forget & rejoin's look at the reinstalled host (R4.2, issue 10): before anything is forgotten or sent, what the
 * host at the address presents (its certificate, read without a request) and which VMs go with the old host's local
 * storage; then, once an approver confirmed the certificate, a login pinned to it that checks a fresh stand-alone
 * install of the target. Both change nothing in the pool.
 */
import type { NewHostProbe } from '../domain/ports';
import type { HostPlan, Ref } from '../domain/types';
import { isCertificateError } from '../xenapi/tls';
import type { PoolRuntime } from './engine';
import { StepFailure, xenErrorCode } from './errors';
import { lostWithForgottenHost, readStorage, vmsOnLocalStorageOf } from './local-storage';
import { describeHost, readLivePool } from './pool-state';
import { isOnTarget, versionText } from './steps/common';

type Seen = { ok: true; value: NewHostProbe } | { ok: false; code: 'invalid' | 'conflict'; error: string };

/** The certificate at `address` and the VMs lost with the old host's local storage (or any forgotten host's). */
export async function lookAtNewHost(rt: PoolRuntime, poolName: string, oldRef: Ref | undefined, address: string): Promise<Seen> {
  if (!rt.probeHost) return { ok: false, code: 'invalid', error: 'this runner cannot reach a stand-alone host' };
  let probe;
  try {
    probe = await rt.probeHost(address);
  } catch (err) {
    return { ok: false, code: 'invalid', error: `${(err as Error).message}. Nothing was done: check that the reinstalled host is up at ${address}, or correct the address` };
  }
  let lostVms: string[];
  try {
    const storage = await readStorage(rt.deps.client);
    lostVms = (oldRef ? vmsOnLocalStorageOf(storage, oldRef) : lostWithForgottenHost(storage)).map((v) => v.name);
  } catch (err) {
    return { ok: false, code: 'conflict', error: `cannot read the storage of pool ${poolName}: ${(err as Error).message}` };
  }
  return { ok: true, value: { address, ...(probe.certificate ? { certificate: probe.certificate } : {}), lostVms } };
}

/**
 * Logs in on the new host pinned to the confirmed certificate (never following HOST_IS_SLAVE) and checks it is a
 * fresh stand-alone host on the target with no VMs. Returns what was verified; throws a StepFailure saying that
 * nothing was forgotten otherwise.
 */
export async function verifyNewHost(rt: PoolRuntime, address: string, fingerprint256: string | undefined, to: HostPlan['to'], targetLabel: string): Promise<string> {
  if (!rt.freshHostClient) throw new StepFailure('this runner cannot reach a stand-alone host (no fresh host client)');
  const fresh = rt.freshHostClient(address, fingerprint256);
  const notVerified = (why: string, code: string, observed?: string[]) =>
    new StepFailure(`the host at ${address} was not verified: ${why}. Nothing was forgotten and pool.join was not sent (R4.2)`, { code, observed });
  try {
    await fresh.login();
    const p = await readLivePool(fresh);
    const [h, ...more] = p.hosts;
    if (!h || more.length > 0) throw notVerified(`it is a pool of ${p.hosts.length} hosts, not a fresh stand-alone install`, 'NEW_HOST_NOT_STANDALONE', p.hosts.map(describeHost));
    if (!isOnTarget(h, to)) throw notVerified(`it runs ${versionText(h)}, not ${targetLabel}: reinstall it on the target`, 'NEW_HOST_WRONG_VERSION', [describeHost(h)]);
    if (p.vms.length > 0) throw notVerified(`it has ${p.vms.length} VM(s) (${p.vms.map((v) => v.name).join(', ')}): not a fresh install`, 'NEW_HOST_NOT_FRESH', [describeHost(h)]);
    return `${h.name} at ${address}: stand-alone, ${versionText(h)}${fingerprint256 ? `, certificate sha256 ${fingerprint256}` : ' (plain http: identity not verifiable)'}`;
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    const e = err as { code?: unknown; message?: string; params?: string[] };
    if (xenErrorCode(err) === 'HOST_IS_SLAVE') throw notVerified(`it is a member of another pool (its master is ${e.params?.[0] ?? '?'})`, 'NEW_HOST_NOT_STANDALONE');
    if (isCertificateError(e)) throw notVerified(`it presented a certificate other than the confirmed one (sha256 ${fingerprint256}); nothing was sent to it`, 'NEW_HOST_CERTIFICATE_MISMATCH');
    throw notVerified(e.message ?? String(err), xenErrorCode(err) ?? 'NEW_HOST_UNREACHABLE');
  } finally {
    await fresh.logout().catch(() => undefined);
  }
}
