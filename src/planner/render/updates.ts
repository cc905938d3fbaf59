/** R3.10 in plan renders (Slack blocks, terminal): which updates each host gets and what they cost. */
import type { HostPlan, Plan } from '../../domain/types';

const RESTART: Record<'host' | 'toolstack' | 'none', string> = { host: '1 reboot', toolstack: 'toolstack restart, no reboot', none: 'no reboot' };

export function updatesTitle(plan: Plan): string | undefined {
  const u = plan.updates;
  if (!u || !u.hosts.length) return undefined;
  return `Hotfixes (R3.10): ${u.items.length} update${u.items.length === 1 ? '' : 's'} from ${u.repository}, uploaded once; ${u.extraReboots} extra reboot${u.extraReboots === 1 ? '' : 's'}, no extra migration`;
}

/** "xs-h1: XS76E001, XS76E002 → 1 reboot" per host, in the plan's order */
export function updateHostLines(plan: Plan): string[] {
  const u = plan.updates;
  if (!u) return [];
  const name = (id: string) => u.items.find((x) => x.uuid === id)?.name ?? id;
  const order = plan.hosts.map((h) => h.host);
  return [...u.hosts]
    .sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host))
    .map((h) => `${h.name}: ${h.updates.map(name).join(', ')} → ${RESTART[h.restart]}`);
}

/** A host already on the target that only gets its updates (R3.10) */
export function isUpdateOnly(h: HostPlan): boolean {
  return h.from.product === h.to.product && !h.alreadyDone;
}

/**
 * What a host's gate lets happen, in words (R3.10): "upgrade it" / "upgrade it, then apply its 4 updates (1 reboot)"
 * / "apply its 2 updates (1 reboot)" for a host already on the target.
 */
export function gateWords(plan: Plan, hostRef: string | undefined): string {
  const hp = plan.hosts.find((h) => h.host === hostRef);
  const hu = plan.updates?.hosts.find((h) => h.host === hostRef);
  if (!hu) return 'upgrade it';
  const what = `its ${hu.updates.length} update${hu.updates.length === 1 ? '' : 's'} (${RESTART[hu.restart]})`;
  return hp && isUpdateOnly(hp) ? `apply ${what}` : `upgrade it, then apply ${what}`;
}
