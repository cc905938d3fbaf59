/**
 * A host skipped (Skip host) after its upgrade step: the run header says what was seen, never "✅ upgraded" for a
 * host whose later steps were skipped. Back on the target and seen so (wait-host done): said, with the time; not
 * seen back: said too. Skipped before its upgrade: still on its old version, as before.
 */
import type { Run, StepState } from '../../src/domain/types';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { isOnTarget, hostProgress } from '../../src/slack/blocks/progress';
import { makeRun, poolConfig } from './helpers/fixtures';

const BACK_AT = Date.UTC(2026, 10, 25, 3, 40);

/** xs-a1 done; xs-a2's steps in the given states (the others pending). */
function runWith(a2: Record<string, StepState>): Run {
  const run = makeRun({ state: 'running' });
  for (const s of run.steps) {
    if (s.hostName === 'xs-a1' || s.id === 'backup' || s.id === 'pool-prep') s.state = 'done';
    if (s.hostName === 'xs-a2') {
      s.state = a2[s.kind] ?? 'done';
      if (s.kind === 'wait-host' && s.state === 'done') s.endedAt = BACK_AT;
    }
  }
  return run;
}

const headerLine = (run: Run, host: string) =>
  JSON.stringify(runHeaderMessage(run, poolConfig()).blocks)
    .split(/\\n|"/)
    .find((l) => l.startsWith(`\`${host}\``))!;

describe('the run header for a host skipped after its upgrade', () => {
  it('seen back on the target, its enable skipped: skipped after its upgrade, back at the time seen, never ✅', () => {
    const run = runWith({ enable: 'skipped', 'restore-vms': 'skipped' });
    const line = headerLine(run, 'xs-a2');
    expect(line).not.toMatch(/✅/);
    expect(line).toMatch(/^`xs-a2` ⏭ skipped after its upgrade: back on 7\.6\.0 at <!date[^|]*\|03:40 UTC>; not done: enable, restore-vms$/);
    expect(isOnTarget(hostProgress(run).find((p) => p.name === 'xs-a2')!)).toBe(true);
  });

  it('its wait for the host skipped: not seen back on the target, and not counted as on it', () => {
    const run = runWith({ 'wait-host': 'skipped', enable: 'skipped', 'restore-vms': 'skipped' });
    const line = headerLine(run, 'xs-a2');
    expect(line).toMatch(/^`xs-a2` ⏭ skipped after its upgrade started: not seen back on 7\.6\.0; not done: wait-host, enable, restore-vms$/);
    expect(isOnTarget(hostProgress(run).find((p) => p.name === 'xs-a2')!)).toBe(false);
  });

  it('skipped before its upgrade: still on its old version', () => {
    const run = runWith({ 'stop-vms': 'skipped', upgrade: 'skipped', 'wait-host': 'skipped', enable: 'skipped', 'restore-vms': 'skipped' });
    expect(headerLine(run, 'xs-a2')).toMatch(/^`xs-a2` ⏭ skipped, still on 7\.1/);
  });

  it('every step done: upgraded, with the time it was seen back', () => {
    expect(headerLine(runWith({}), 'xs-a2')).toMatch(/^`xs-a2` ✅ 7\.6\.0 back <!date[^|]*\|03:40 UTC>/);
  });
});
