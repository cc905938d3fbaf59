import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';

/**
 * R2.7: no rolling upgrade of hosts that boot from SAN. XenAPI has no field that says a host boots from SAN (the
 * vendor's plugin reads a file in dom0), so the only evidence is the pools file's `sanBootHosts`: the plan says so
 * plainly, and blocks for every declared host still to upgrade, or a declared name that is not in the pool (a typo
 * would silently leave a SAN-boot host unprotected).
 */
export function sanBootChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const declared = ctx.opts.sanBootHosts ?? [];
  const members = new Set(snapshot.hosts.map((h) => h.name));
  const unknown = declared.filter((n) => !members.has(n));
  const hosts = ctx.order.filter((h) => h.sanBoot || declared.includes(h.name)).map((h) => h.name);
  const out: Precheck[] = [
    {
      id: 'san-boot-declared',
      rule: 'R2.7',
      severity: 'info',
      subjects: { hosts: declared.filter((n) => members.has(n)), vms: [] },
      message:
        `XenAPI cannot detect boot from SAN: R2.7 is enforced only for hosts declared in the pools file (sanBootHosts: ${declared.length ? listNames(declared) : 'none'}). ` +
        'Declare every SAN-boot host there before starting.',
      fix: { kind: 'none' },
    },
  ];
  if (unknown.length > 0) {
    out.push({
      id: 'san-boot-unknown',
      rule: 'R2.7',
      severity: 'blocker',
      subjects: { hosts: unknown, vms: [] },
      message: `sanBootHosts names ${listNames(unknown)}, not ${unknown.length === 1 ? 'a member' : 'members'} of this pool (members: ${listNames([...members])}): a misspelt name leaves a SAN-boot host unprotected`,
      fix: { kind: 'manual', guidance: 'correct sanBootHosts in the pools file (host name_label), then plan again' },
    });
  }
  if (hosts.length > 0) {
    out.push({
      id: 'san-boot',
      rule: 'R2.7',
      severity: 'blocker',
      subjects: { hosts, vms: [] },
      message: `${listNames(hosts)} ${hosts.length === 1 ? 'boots' : 'boot'} from SAN (declared in the pools file): an upgrade would lose the multipath boot settings`,
      fix: { kind: 'manual', guidance: 'upgrade these hosts by hand with the vendor procedure for SAN boot, outside the rolling upgrade; then plan again' },
    });
  }
  return out;
}
