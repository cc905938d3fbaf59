/**
 * The system call filter a systemd unit file asks for (SystemCallFilter=, SystemCallErrorNumber=), worked out the way
 * systemd.exec(5) describes it, with the system call groups (@system-service, …) expanded by the machine's own
 * `systemd-analyze syscall-filter`: the test runs the bot under that filter (seccomp-exec.py) without systemd.
 *
 * systemd.exec: the first SystemCallFilter= decides the mode: a list is an allow-list (every other call refused),
 * a list after "~" a deny-list. Each later assignment adds its calls to the list or, with the other prefix, takes
 * them out of it; an empty assignment resets it. A refused call kills the process (SIGSYS) unless
 * SystemCallErrorNumber= names an errno, which the call then fails with.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface SeccompSpec {
  mode: 'allow' | 'deny';
  syscalls: string[];
  /** null: a refused call kills the process */
  errno: string | null;
  /** uid and gid the command runs as when started as root (the unit's DynamicUser=); null: as it was started */
  user?: [number, number] | null;
}

/** `Key=Value` assignments of the unit's [Service] section, in order (comments and other sections left out). */
export function serviceAssignments(unitFile: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let section = '';
  for (const raw of readFileSync(unitFile, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const eq = line.indexOf('=');
    if (section === '[Service]' && eq > 0) out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** The system calls of a name or @group, groups expanded recursively by systemd-analyze. */
function expander(systemdAnalyze: string): (entry: string) => string[] {
  const groups = new Map<string, string[]>();
  const expand = (entry: string): string[] => {
    if (!entry.startsWith('@')) return [entry];
    let members = groups.get(entry);
    if (!members) {
      const text = execFileSync(systemdAnalyze, ['syscall-filter', '--no-pager', entry], { encoding: 'utf8', timeout: 20_000 });
      members = text
        .split('\n')
        .slice(1) // the group's own name
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
      if (members.length === 0) throw new Error(`systemd-analyze knows no system call group ${entry}`);
      groups.set(entry, members);
    }
    return members.flatMap(expand);
  };
  return expand;
}

/** The system calls of one @group, nested groups expanded. */
export function expandGroup(group: string, systemdAnalyze: string): string[] {
  return expander(systemdAnalyze)(group);
}

export function unitSeccompSpec(unitFile: string, systemdAnalyze: string): SeccompSpec | undefined {
  const expand = expander(systemdAnalyze);
  let mode: 'allow' | 'deny' | undefined;
  let listed = new Set<string>();
  let errno: string | null = null;
  for (const [key, value] of serviceAssignments(unitFile)) {
    if (key === 'SystemCallErrorNumber') errno = value === '' || value === 'kill' ? null : value;
    if (key !== 'SystemCallFilter') continue;
    if (value === '') {
      mode = undefined;
      listed = new Set();
      continue;
    }
    const inverted = value.startsWith('~');
    const entries = (inverted ? value.slice(1) : value).split(/\s+/).filter(Boolean);
    if (entries.some((e) => e.includes(':'))) throw new Error(`SystemCallFilter=${value}: per-call errno is not emulated here`);
    mode ??= inverted ? 'deny' : 'allow';
    // an entry of the list's own kind adds to it; one of the other kind takes out of it
    const adds = (mode === 'deny') === inverted;
    for (const call of entries.flatMap(expand)) {
      if (adds) listed.add(call);
      else listed.delete(call);
    }
  }
  return mode ? { mode, syscalls: [...listed].sort(), errno } : undefined;
}
