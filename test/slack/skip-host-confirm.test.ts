/**
 * slack-ux.md: every button's effect is stated before it is pressed. The Skip host confirm of a failure alert says
 * what the run's records show of the host: on the target (its wait-host saw it back), its version unknown (taken down
 * for its upgrade, not seen back), or on its old version (nothing of its upgrade sent).
 */
import { failureMessage } from '../../src/slack/blocks/failure';
import type { StepRecord } from '../../src/domain/types';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

const confirmOf = (blocks: unknown[], text: string): string => {
  for (const b of blocks as Array<{ type: string; elements?: Array<{ text?: { text: string }; confirm?: { text: { text: string } } }> }>) {
    for (const e of b.elements ?? []) if (e.text?.text === text) return e.confirm?.text.text ?? '';
  }
  throw new Error(`no button ${text}`);
};

const failed = (message: string): Partial<StepRecord> => ({ state: 'failed', attempts: 1, error: { message } });
const before = { 'xs-a1:*': { state: 'done' }, 'xs-a2:disable': { state: 'done' }, 'xs-a2:evacuate': { state: 'done' }, 'xs-a2:approval': { state: 'done' }, 'xs-a2:stop-vms': { state: 'done' } } as const;

function skipConfirm(steps: Record<string, Partial<StepRecord>>, failedId: string): string {
  const run = withSteps(makeRun({ state: 'failed' }), { ...before, ...steps });
  const text = confirmOf(failureMessage(run, step(run, failedId), ['retry', 'skip-host', 'abort'], poolConfig()).blocks, 'Skip host');
  expect(text.length).toBeLessThan(300); // Slack's limit for a confirm's text: never cut
  return text;
}

describe('Skip host confirm says what the records show of the host', () => {
  it('seen back on 7.6.0 (wait-host done), its enable failed: on the target, never "on its old version"', () => {
    const text = skipConfirm(
      { 'xs-a2:upgrade': { state: 'done' }, 'xs-a2:wait-host': { state: 'done', endedAt: Date.UTC(2026, 10, 25, 3, 0) }, 'xs-a2:enable': failed('PBD.plug failed on xs-a2: SR_BACKEND_FAILURE_47') },
      'xs-a2:enable',
    );
    expect(text).not.toMatch(/on its old version/);
    expect(text).toMatch(/The run saw xs-a2 back on 7\.6\.0 at <!date\^\d+\^\{time\}\|03:00 UTC>: it stays on 7\.6\.0, as its failed step \(enabling the host\) left it; check whether it is enabled\. Not done: enable, restore-vms\./);
  });

  it('its wait-host failed: its version is unknown (it may still come up upgraded)', () => {
    const text = skipConfirm({ 'xs-a2:upgrade': { state: 'done', data: { shutdownIssued: true } }, 'xs-a2:wait-host': failed('xs-a2 did not come back') }, 'xs-a2:wait-host');
    expect(text).not.toMatch(/on its old version/);
    expect(text).toMatch(/xs-a2's version is unknown: the run took it down for its upgrade and has not seen it back; it may still come up on 7\.6\.0/);
  });

  it('its upgrade failed after the reboot was sent: its version is unknown', () => {
    const text = skipConfirm({ 'xs-a2:upgrade': { ...failed('no answer'), data: { prepared: true, shutdownIssued: true } } }, 'xs-a2:upgrade');
    expect(text).toMatch(/xs-a2's version is unknown/);
  });

  it('its upgrade failed before anything was sent: on its old version, disabled', () => {
    const text = skipConfirm({ 'xs-a2:upgrade': failed('prepare_host_upgrade refused') }, 'xs-a2:upgrade');
    expect(text).toMatch(/xs-a2 stays out of this run on its old version, disabled/);
  });
});
