/**
 * A failure alert reaches the operator whatever the length of the step's error. A XenAPI failure carries what xapi
 * or a plugin said in its params (prepare_host_upgrade.py's output, an SR backend's stderr), and the runner stores it
 * whole in the step's error. Slack refuses a message whose `text` is longer than 40,000 characters (msg_too_long),
 * with its blocks and without them: the alert with its Retry / Forget & rejoin / Rollback buttons would never be
 * posted, and the operator paged at 3 a.m. would never see the failure.
 */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { sections } from '../../src/slack/blocks/common';
import { failureDecidedMessage, failureMessage } from '../../src/slack/blocks/failure';
import { ACTION } from '../../src/slack/blocks/ids';
import { XenApiError } from '../../src/xenapi';
import { startHarness } from './helpers/harness';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

/** What prepare_host_upgrade.py may answer: its exception with the whole output of the commands it ran. */
const OUTPUT = `Traceback (most recent call last): rpm -Uvh failed: ${Array.from({ length: 900 }, (_, i) => `package-${i}-1.0.x86_64 conflicts with installed file /usr/lib/xen-${i}`).join('; ')}`;

function failedRun() {
  // the upgrade step's own wording of a plugin failure (src/runner/steps/upgrade.ts)
  const error = toStepError(new StepFailure(`preparing xs-a2 for the upgrade failed: ${OUTPUT}`, { code: 'XENAPI_PLUGIN_FAILURE', params: ['main', 'Exception', OUTPUT] }));
  const run = withSteps(makeRun({ state: 'failed' }), { 'xs-a2:upgrade': { state: 'failed', attempts: 1, error } });
  return { run, step: step(run, 'xs-a2:upgrade') };
}

describe('a failure alert with a very long step error', () => {
  it('the error is long enough to matter: over the 40,000 characters Slack takes as a message text', () => {
    expect(failedRun().step.error!.message.length).toBeGreaterThan(40_000);
    // nothing on the way bounds what the pool said
    expect(toStepError(new XenApiError('SR_BACKEND_FAILURE_46', ['', OUTPUT, ''], 'PBD.plug', 'xs-a2')).message.length).toBeGreaterThan(40_000);
  });

  it('is posted in the thread with its recovery buttons', async () => {
    const { run, step: s } = failedRun();
    const h = await startHarness();
    try {
      await h.slack.notifier.runStarted(run);
      await h.slack.notifier.stepFailed(run, s, ['retry', 'forget-rejoin', 'rollback-master', 'abort']);
      await h.slack.idle();
      const alert = h.api.messages().find((m) => JSON.stringify(m.blocks ?? []).includes(ACTION.recoverRetry));
      expect(h.api.calls.filter((c) => c.outcome !== 'ok').map((c) => c.outcome)).toEqual([]);
      expect(alert).toBeDefined();
      const actions = JSON.stringify(alert!.blocks);
      for (const id of [ACTION.recoverRetry, ACTION.recoverForgetRejoin, ACTION.recoverRollbackMaster, ACTION.recoverAbort]) expect(actions).toContain(id);
      // the notification still says which run, which pool and which host failed, and how it starts
      expect(alert!.text).toMatch(new RegExp(`^${run.id} · pool-a: xs-a2 failed — preparing xs-a2 for the upgrade failed: Traceback`));
    } finally {
      await h.stop();
    }
  });

  it('keeps the notification text short enough to read; the blocks show the error split over sections', () => {
    const { run, step: s } = failedRun();
    const m = failureMessage(run, s, ['retry', 'abort'], poolConfig());
    expect(m.text.length).toBeLessThanOrEqual(500);
    expect(m.text.endsWith('…')).toBe(true);
    // sections() splits the *Error:* line rather than cut it, within Slack's 3,000 characters a section
    const texts = m.blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));
    expect(texts.length).toBeGreaterThan(2);
    expect(texts.every((t) => t.length <= 3000)).toBe(true);
    expect(texts.join('')).toContain(OUTPUT.slice(0, 5000));
    expect(sections(`*Error:* ${OUTPUT}`).length).toBeGreaterThan(1);
  });

  it('a short error is the whole notification text, as before', () => {
    const error = toStepError(new StepFailure('xs-a2 did not come back', { code: 'HOST_WAIT_TIMEOUT' }));
    const run = withSteps(makeRun({ state: 'failed' }), { 'xs-a2:wait-host': { state: 'failed', attempts: 1, error } });
    expect(failureMessage(run, step(run, 'xs-a2:wait-host'), ['retry'], poolConfig()).text).toBe(`${run.id} · pool-a: xs-a2 failed — xs-a2 did not come back`);
  });

  it('the alert once a recovery is chosen keeps a short text too', () => {
    const { run, step: s } = failedRun();
    const m = failureDecidedMessage(run, s, 'retry', 'U0MIKA', run.createdAt, poolConfig());
    expect(m.text.length).toBeLessThanOrEqual(500);
    expect(m.blocks.every((b) => b.type !== 'section' || (b.text?.text.length ?? 0) <= 3000)).toBe(true);
  });
});
