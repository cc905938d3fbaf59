/**
 * After a host comes back from its reboot, its storage must be attached before VMs are moved or started onto it:
 * 7.6 unplugs a host's PBDs when it goes down and re-plugs them at boot, and that plug can fail while the host is
 * enabled anyway with HA off (reference top 2). A migration onto it would then fail VM_REQUIRES_SR half-way.
 * As XenCenter does (CheckAndPlugPBDs): wait up to 120 s for xapi's own re-plug, then PBD.plug what is still
 * detached; a plug that fails stops the step with the SRs named and what to do.
 */
import type { Ref } from '../domain/types';
import { isPoolUnavailable, StepFailure, toStepError } from './errors';
import type { StepDeps } from './ports';
import type { StepContext } from './step';

/** how long xapi gets to re-plug the host's PBDs itself after it is back (clock ms), as XenCenter waits */
export const PBD_WAIT_MS = 120_000;

interface PbdView {
  ref: Ref;
  sr: string;
  attached: boolean;
}

async function detachedPbds(deps: StepDeps, host: Ref): Promise<PbdView[]> {
  const [pbds, srs] = await Promise.all([
    deps.client.call<Record<string, { host?: string; SR?: string; currently_attached?: unknown }>>('PBD.get_all_records'),
    deps.client.call<Record<string, { name_label?: string }>>('SR.get_all_records'),
  ]);
  return Object.entries(pbds ?? {})
    .filter(([, p]) => p.host === host)
    .map(([ref, p]) => ({ ref, sr: srs?.[p.SR ?? '']?.name_label ?? p.SR ?? '?', attached: p.currently_attached === true || p.currently_attached === 'true' }))
    .filter((p) => !p.attached);
}

/** Returns the SR names it had to plug itself ([] when xapi had attached everything). */
export async function ensurePbdsPlugged(deps: StepDeps, ctx: StepContext, host: Ref, name: string): Promise<string[]> {
  const until = deps.clock.now() + PBD_WAIT_MS;
  let detached = await detachedPbds(deps, host);
  while (detached.length > 0 && deps.clock.now() < until) {
    await deps.clock.sleep(Math.min(5_000, Math.max(1, until - deps.clock.now())), ctx.signal);
    detached = await detachedPbds(deps, host);
  }
  if (detached.length === 0) return [];
  let failed: Array<{ pbd: PbdView; text: string; unanswered: boolean }> = [];
  for (const pbd of detached) {
    try {
      await ctx.act('PBD.plug', [pbd.ref], `SR ${pbd.sr} on ${name}`);
    } catch (err) {
      const e = toStepError(err);
      failed.push({ pbd, text: `${pbd.sr}: PBD.plug failed: ${e.code ?? ''} ${e.message}`.trim(), unanswered: isPoolUnavailable(err) });
    }
  }
  if (failed.some((f) => f.unanswered)) {
    // no answer (a reply lost, a slow plug past the call's timeout): whether it plugged is unknown, so the pool says
    // which are still detached; a read that fails in turn fails the step as the pool being unavailable (re-run)
    const still = new Set((await detachedPbds(deps, host)).map((p) => p.ref));
    failed = failed.filter((f) => still.has(f.pbd.ref));
  }
  const failures = failed.map((f) => f.text);
  if (failures.length > 0) {
    throw new StepFailure(
      `${name} is back, but storage is still detached from it after ${PBD_WAIT_MS / 1000} s and PBD.plug: ${failures.map((f) => f.split(':')[0]).join(', ')}. ` +
        `No VM is moved or started onto it (it would fail VM_REQUIRES_SR). Fix the storage path, plug it (xe pbd-plug uuid=…), then Retry.`,
      { code: 'PBD_NOT_PLUGGED', observed: failures },
    );
  }
  await ctx.say(`${name}: ${detached.map((p) => p.sr).join(', ')} ${detached.length === 1 ? 'was' : 'were'} still detached ${PBD_WAIT_MS / 1000} s after it came back; plugged (PBD.plug).`);
  return detached.map((p) => p.sr);
}
