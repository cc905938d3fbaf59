import type { PoolSnapshot, Precheck } from '../../domain/types';
import { SAN_BOOT_KEY } from '../../inventory/convert';
import { PrecheckContext, listNames } from '../context';

/** R2.7: no rolling upgrade of hosts that boot from SAN (marker: host other_config boot_from_san). */
export function sanBootChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const hosts = ctx.order.filter((h) => h.sanBoot).map((h) => h.name);
  if (hosts.length === 0) return [];
  return [
    {
      id: 'san-boot',
      rule: 'R2.7',
      severity: 'blocker',
      subjects: { hosts, vms: [] },
      message: `${listNames(hosts)} ${hosts.length === 1 ? 'boots' : 'boot'} from SAN (other_config:${SAN_BOOT_KEY}): an upgrade would lose the multipath boot settings`,
      fix: { kind: 'manual', guidance: 'upgrade these hosts by hand with the vendor procedure for SAN boot, outside the rolling upgrade; then plan again' },
    },
  ];
}
