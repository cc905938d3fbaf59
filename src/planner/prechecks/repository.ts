import type { PoolSnapshot, Precheck } from '../../domain/types';
import { withoutUrlCredentials } from '../../xenapi/redact';
import { PrecheckContext, listNames } from '../context';

/** prepare_host_upgrade.py testUrl error codes (XenCenter's friendly names, in our words). */
const PLUGIN_ERRORS: Record<string, string> = {
  MISSING_URL: 'the repository lacks install.img, boot/vmlinuz, boot/xen.gz or boot/isolinux/isolinux.cfg',
  INVALID_URL: 'the repository URL is not valid (FTP: passive mode and an escaped leading slash, R3.9)',
  INVALID_VER: 'the repository holds a version older than the host',
  NOT_FOUND: 'the repository answered 404 Not Found',
  FORBIDDEN: 'the repository refused access (403)',
  UNAUTH_URL: 'the repository needs credentials (those of the HTTP/FTP server, never the pool’s)',
  TIMEOUT: 'the repository did not answer in time',
  REPO_IOERROR: 'the repository could not be read',
};


/** Automatic: testUrl on every host to upgrade (R3.9). Manual: what the operator will do. Update: the ISO (R1.3). */
export function repositoryChecks(_snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  if (ctx.order.length === 0 || !ctx.target) return [];
  const target = ctx.target;
  const all = { hosts: ctx.order.map((h) => h.name), vms: [] };
  if (ctx.opts.mode === 'manual') {
    return [
      {
        id: 'manual-mode',
        rule: 'R3.9',
        severity: 'info',
        subjects: all,
        message: `manual mode: after each approval the bot reboots the host; boot it from the ${target.label} install media (CD or PXE), choose Upgrade at the console, and the bot waits for ${target.product}`,
        fix: { kind: 'none' },
      },
    ];
  }
  if (ctx.opts.mode === 'update') {
    return [
      {
        id: 'update-mode',
        rule: 'R1.3',
        severity: 'info',
        subjects: all,
        message: `update mode: the ${target.label} update ISO is uploaded once, then applied to each host before its reboot`,
        fix: { kind: 'none' },
      },
    ];
  }
  const repo = ctx.opts.repository;
  if (!repo?.url) {
    return [
      {
        id: 'repository',
        rule: 'R3.9',
        severity: 'blocker',
        subjects: all,
        message: 'automatic mode needs an install repository URL (http, https, ftp or nfs), and none is configured',
        fix: { kind: 'manual', guidance: 'set upgrade.repositoryUrl for the pool, or plan with --mode manual' },
      },
    ];
  }
  const out: Precheck[] = [];
  const untested = ctx.order.filter((h) => !repo.testResults?.[h.ref]).map((h) => h.name);
  if (untested.length > 0) {
    out.push({
      id: 'repository-untested',
      rule: 'R3.9',
      severity: 'blocker',
      subjects: { hosts: untested, vms: [] },
      message: `the repository was not tested from ${listNames(untested)} (prepare_host_upgrade.py testUrl): the plan does not assume it works`,
      fix: { kind: 'manual', guidance: 'plan again against the live pool so every host runs testUrl' },
    });
  }
  const failed = ctx.order.filter((h) => repo.testResults?.[h.ref] && !repo.testResults[h.ref].ok);
  const byError = new Map<string, string[]>();
  for (const h of failed) {
    const err = repo.testResults![h.ref].error ?? 'unknown error';
    byError.set(err, [...(byError.get(err) ?? []), h.name]);
  }
  for (const [err, hosts] of byError) {
    const code = err.trim().split(/\s+/)[0];
    out.push({
      id: 'repository',
      rule: 'R3.9',
      severity: 'blocker',
      subjects: { hosts, vms: [] },
      message: `repository ${withoutUrlCredentials(repo.url)} failed testUrl on ${listNames(hosts)}: ${err}${PLUGIN_ERRORS[code] ? ` (${PLUGIN_ERRORS[code]})` : ''}`,
      fix: { kind: 'manual', guidance: `make the ${target.label} install files reachable from every host at that URL, then plan again` },
    });
  }
  if (untested.length === 0 && failed.length === 0) {
    out.push({
      id: 'repository',
      rule: 'R3.9',
      severity: 'info',
      subjects: all,
      message: `repository ${withoutUrlCredentials(repo.url)} passed testUrl on every host to upgrade`,
      fix: { kind: 'none' },
    });
  }
  return out;
}
