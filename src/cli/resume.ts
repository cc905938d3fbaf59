/**
 * `xsupgrade resume <run> [--yes] [--action <retry|forget-rejoin|rollback-master|skip-host|skip-update> --step <id> [--address <a> [--fingerprint <sha256> | --plain-http]]]`
 * forget-rejoin (R4.2) without --fingerprint only looks at the address and prints the certificate there; run it again
 * with the fingerprint read on the host's console to confirm it (or --plain-http for a pool without TLS, whose host
 * has no identity to confirm: an explicit second step all the same).
 * Un-pause a held run, take over a run whose runner died, or apply a recovery action to a failed step; then keep
 * driving it from this terminal, through the next hops of a multi-hop upgrade as `xsupgrade run` does.
 */
import type { RecoveryAction } from '../domain/types';
import { cliActor, openConsoleCore, type OpenedCore } from '../core/console';
import { parseCommandArgs } from './args';
import { throughTheHops } from './run';
import { SPECS } from './specs';

const ACTIONS: RecoveryAction[] = ['retry', 'forget-rejoin', 'rollback-master', 'skip-host', 'skip-update', 'abort'];

export async function run(args: string[]): Promise<number> {
  const { positional, opts } = parseCommandArgs(SPECS.resume, args);
  const id = positional[0];
  const c = await openConsoleCore(process.env, { yes: !!opts.yes, interactive: !!process.stdin.isTTY, write: (l) => console.log(l) });
  try {
    const current = await c.core.getRun(id);
    if (!current) {
      console.error(`xsupgrade: no run ${id}`);
      return 1;
    }
    const ending = c.notifier.until(id);
    let res;
    // recovery options without --action would be dropped, and the run merely resumed: refused instead
    const stray = ['step', 'address', 'fingerprint', 'plain-http'].filter((o) => opts[o] !== undefined && (!opts.action || (o !== 'step' && opts.action !== 'forget-rejoin')));
    if (stray.length) {
      console.error(`xsupgrade: ${stray.map((o) => `--${o}`).join(', ')} ${opts.action ? `does not go with --action ${String(opts.action)}` : 'needs --action'}; nothing was done`);
      return 1;
    }
    if (opts.action) {
      const action = String(opts.action) as RecoveryAction;
      if (!ACTIONS.includes(action)) {
        console.error(`xsupgrade: --action must be one of ${ACTIONS.join(', ')}`);
        return 1;
      }
      const stepId = typeof opts.step === 'string' ? opts.step : current.steps.find((s) => s.state === 'failed')?.id;
      if (!stepId) {
        console.error(`xsupgrade: run ${id} has no failed step`);
        return 1;
      }
      const address = typeof opts.address === 'string' ? opts.address : undefined;
      // AB:CD:… whatever separators were typed; exactly 64 hex digits (an odd one would be dropped by the pairing)
      const hex = typeof opts.fingerprint === 'string' ? opts.fingerprint.replace(/[^0-9a-fA-F]/g, '').toUpperCase() : undefined;
      if (hex !== undefined && hex.length !== 64) {
        console.error(`xsupgrade: --fingerprint: expected a SHA-256 fingerprint (64 hex digits, AB:CD:… or without separators), got ${hex.length} hex digits; nothing was done`);
        return 1;
      }
      const fingerprint = hex?.match(/../g)!.join(':');
      if (action === 'forget-rejoin' && address && !fingerprint && !opts['plain-http']) {
        const probe = await c.core.probeNewHost(id, stepId, address, cliActor());
        if (!probe.ok) {
          console.error(`xsupgrade: ${probe.error}`);
          return 1;
        }
        const cert = probe.value.certificate;
        console.log(cert ? `${address} presents a certificate with SHA-256 fingerprint\n  ${cert.fingerprint256}\n  subject ${cert.subject}${cert.selfSigned ? ' (self-signed)' : `, issuer ${cert.issuer}`}, valid from ${cert.validFrom}` : `${address} answers over plain http: its identity cannot be verified`);
        console.log(probe.value.lostVms.length ? `lost with the old host's local storage (R4.2): ${probe.value.lostVms.join(', ')}` : 'no VM has a disk on the old host\'s local storage');
        console.log(
          cert
            ? `Nothing was done. Compare the fingerprint with the host's console, then run again with --fingerprint ${cert.fingerprint256}`
            : 'Nothing was done. If this is the reinstalled host, run again with --plain-http to forget the old host and join this one',
        );
        return 1;
      }
      // the bot pins the typed fingerprint: a host presenting any other certificate gets no credential
      res = await c.core.recover(id, { action, stepId, ...(address ? { address } : {}), ...(fingerprint ? { fingerprint256: fingerprint } : {}) }, cliActor());
    } else {
      res = await c.core.resume(id, cliActor());
    }
    if (!res.ok) {
      console.error(`xsupgrade: ${res.error}`);
      return 1;
    }
    if (res.value.state === 'aborted') return 1;
    await sayWhoHoldsTheLease(c, current.pool);
    // a done hop of a multi-hop upgrade goes on to the next hop, as in `xsupgrade run` (R1.4)
    return await throughTheHops(c, await ending, !!opts.yes);
  } finally {
    await c.close();
  }
}

/**
 * A runner that died keeps the pool's lease until it expires (XSUPGRADE_LEASE_TTL_SECONDS): this terminal drives the
 * run only then. Said, so that a wait of up to a minute is not taken for a hang.
 */
async function sayWhoHoldsTheLease(c: OpenedCore, pool: string): Promise<void> {
  const lease = await c.store.getLease(pool);
  if (!lease || lease.owner === c.ownerId || lease.expiresAt <= c.clock.now()) return;
  console.log(
    `the lease of pool ${pool} is held by ${lease.owner} (run ${lease.runId}) until ${new Date(lease.expiresAt).toISOString()}: ` +
      'if that runner stopped, this terminal takes the run over when the lease expires; if it is alive, it drives the run',
  );
}
