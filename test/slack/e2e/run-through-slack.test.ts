import { ACTION, FORGET_REJOIN_CONFIRM_INPUT, FORGET_REJOIN_INPUT, VIEW } from '../../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from '../helpers/fixtures';
import { buttonValue, SlackE2E, startSlackE2E, textOf, until } from './helpers';

/**
 * A whole run on the simulator through Slack only: the operator types the slash command and clicks
 * the buttons the bot posted; everything is read back from the fake Web API.
 */
async function planAndStartFromSlack(e: SlackE2E) {
  await e.command('plan pool-a', { user: REQUESTER });
  const planMsg = await until('the plan message', () => e.api.messages(CHANNEL).find((m) => !m.ephemeralTo && buttonValue(m, ACTION.planStart)));
  expect(planMsg.text).toContain('pool-a');
  await e.click(ACTION.planStart, buttonValue(planMsg, ACTION.planStart)!, { user: REQUESTER, messageTs: planMsg.ts, blocks: planMsg.blocks });
  const header = await until('the run header', () => e.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
  const runId = header.text.split(' ')[0];
  // the plan's Start button gave way to who started which run
  await until('the plan message updated', () => textOf(e.api.messages(CHANNEL).find((m) => m.ts === planMsg.ts)!).includes(`Started as run \`${runId}\``));
  return { header, runId };
}

const thread = (e: SlackE2E, ts: string) => e.api.messages(CHANNEL).filter((m) => m.thread_ts === ts && !m.ephemeralTo);

/** Approves every pending approval (as the approver) until `done` says the run reached its end. */
async function approveUntil(e: SlackE2E, headerTs: string, done: (text: string) => boolean, onAlert?: (alertTs: string) => Promise<boolean>) {
  const clicked = new Set<string>();
  for (;;) {
    const next = await until('an approval, an alert or the end of the run', () => {
      const msgs = thread(e, headerTs);
      const end = msgs.find((m) => done(textOf(m)));
      if (end) return { kind: 'end' as const, m: end };
      const approval = msgs.find((m) => buttonValue(m, ACTION.approve) && !clicked.has(m.ts));
      if (approval) return { kind: 'approval' as const, m: approval };
      const alert = msgs.find((m) => buttonValue(m, ACTION.recoverAbort) && !clicked.has(m.ts));
      if (alert) return { kind: 'alert' as const, m: alert };
      return undefined;
    });
    if (next.kind === 'end') return next.m;
    clicked.add(next.m.ts);
    if (next.kind === 'approval') {
      await e.click(ACTION.approve, buttonValue(next.m, ACTION.approve)!, { user: APPROVER, messageTs: next.m.ts });
    } else if (!onAlert || !(await onAlert(next.m.ts))) {
      throw new Error(`unexpected failure alert: ${next.m.text}`);
    }
  }
}

describe('a whole run through Slack only (simulator, real core)', () => {
  jest.setTimeout(120_000);

  it('plan → start → approve each host → done, with the thread telling the story', async () => {
    const e = await startSlackE2E();
    try {
      const { header, runId } = await planAndStartFromSlack(e);
      // the requester cannot approve their own run: refused ephemerally and audited by Core
      const firstApproval = await until('the first approval', () => thread(e, header.ts).find((m) => buttonValue(m, ACTION.approve)));
      await e.click(ACTION.approve, buttonValue(firstApproval, ACTION.approve)!, { user: REQUESTER, messageTs: firstApproval.ts });
      await until('the self-approval refusal', () => e.api.messages().some((m) => m.ephemeralTo === REQUESTER && /Not allowed/.test(textOf(m))));
      expect((await e.store.listAudit(runId)).some((a) => a.kind === 'refused' && a.actor === REQUESTER)).toBe(true);

      const summary = await approveUntil(e, header.ts, (t) => t.includes(`*${runId}* done`));
      expect(textOf(summary)).toMatch(/all 3 hosts of \*pool-a\* on 7\.6\.0/);
      expect(textOf(summary)).toContain('(R5.1)');

      const replies = thread(e, header.ts);
      // automatic mode: each host is rebooted into the installer (src/runner/steps/upgrade.ts), and its gate says so
      const approvals = replies.filter((m) => /xs-a\d reboot approved by/.test(m.text));
      expect(replies.some((m) => /shut ?down approved by/.test(m.text))).toBe(false);
      expect(approvals).toHaveLength(3);
      expect(approvals.every((m) => textOf(m).includes('Approved by <@U0MIKA>') && !buttonValue(m, ACTION.approve))).toBe(true);
      // every message names the pool and the run
      expect(replies.every((m) => textOf(m).includes('pool-a') && textOf(m).includes(runId))).toBe(true);
      const finalHeader = await until('the final header', () => {
        const h = e.api.messages(CHANNEL).find((m) => m.ts === header.ts)!;
        return textOf(h).includes(': done') && h;
      });
      expect(buttonValue(finalHeader, ACTION.runAbort)).toBeUndefined();
      expect(e.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0')).toBe(true);
      // the refs the notifier learnt are stored in the run (restart-safe threading)
      expect((await e.store.getRun(runId))!.slack).toMatchObject({ channel: CHANNEL, headerTs: header.ts });
    } finally {
      await e.close();
    }
  });

  it('slave failure → Forget host & rejoin through the modal → the run completes (R4.2)', async () => {
    const e = await startSlackE2E({ faults: [{ kind: 'install-fails', host: 'xs-a2', when: 'before', times: 1 } as never] });
    try {
      const { header, runId } = await planAndStartFromSlack(e);
      let reinstalled: string | undefined;
      let consoleFingerprint: string | undefined;
      const summary = await approveUntil(
        e,
        header.ts,
        (t) => t.includes(`*${runId}* done`),
        async (alertTs) => {
          const alert = e.api.messages(CHANNEL).find((m) => m.ts === alertTs)!;
          const value = buttonValue(alert, ACTION.recoverForgetRejoin);
          if (!value) return false;
          if (!reinstalled) {
            // the operator reinstalls XenServer on the failed host (outside the bot), then uses the button
            const fresh = e.sim.control.reinstallFresh('xs-a2');
            consoleFingerprint = (await fresh.ready).fingerprint256;
            reinstalled = fresh.address;
          }
          const views = e.api.views().length;
          await e.click(ACTION.recoverForgetRejoin, value, { user: APPROVER, messageTs: alertTs });
          const modal = await until('the forget & rejoin modal', () => e.api.views()[views]);
          expect(JSON.stringify(modal.view.blocks)).toMatch(/host\.destroy[\s\S]*pool\.join/);
          await e.submitView({ id: modal.id, callback_id: VIEW.forgetRejoin, private_metadata: String(modal.view.private_metadata), values: { [FORGET_REJOIN_INPUT.block]: { [FORGET_REJOIN_INPUT.action]: { type: 'plain_text_input', value: reinstalled } } } }, APPROVER);
          // the bot looked at the address: the certificate it saw replaces the form (nothing forgotten yet)
          const confirm = await until('the confirmation step', () => (e.api.getView(modal.id)?.view.callback_id === VIEW.forgetRejoinConfirm ? e.api.getView(modal.id) : undefined));
          expect(JSON.stringify(confirm.view.blocks)).toContain(consoleFingerprint!.slice(0, 47));
          expect(JSON.stringify(confirm.view.blocks)).toMatch(/Lost with xs-a2's local storage.*vm-licence-srv/);
          expect(e.sim.hosts().find((x) => x.name === 'xs-a2')!.inPool).toBe(false); // the reinstalled machine, not yet joined
          // the approver types the fingerprint read on the host's console
          await e.submitView({ id: modal.id, callback_id: VIEW.forgetRejoinConfirm, private_metadata: String(confirm.view.private_metadata), values: { [FORGET_REJOIN_CONFIRM_INPUT.block]: { [FORGET_REJOIN_CONFIRM_INPUT.action]: { type: 'plain_text_input', value: consoleFingerprint! } } } }, APPROVER);
          await until('the alert buttons replaced', () => textOf(e.api.messages(CHANNEL).find((m) => m.ts === alertTs)!).includes('Forget host &amp; rejoin* chosen by <@U0MIKA>') || textOf(e.api.messages(CHANNEL).find((m) => m.ts === alertTs)!).includes('Forget host & rejoin* chosen by <@U0MIKA>'));
          return true;
        },
      );
      expect(textOf(summary)).toContain('done');
      expect(e.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0')).toBe(true);
      const audit = await e.store.listAudit(runId);
      expect(audit.some((a) => /^host\.destroy xs-a2/.test(a.message))).toBe(true);
      expect(audit.some((a) => /^pool\.join on/.test(a.message))).toBe(true);
      // its disk was on xs-a2's local storage: the end of the run says it is lost, never that it runs again (issue 11.8)
      expect(textOf(summary)).not.toMatch(/vm-licence-srv(?:(?!\\n)[^\n])*running again/);
      expect((await e.store.getRun(runId))!.outcome).toMatch(/vm-licence-srv.*its disks were on the local storage of xs-a2, which was reinstalled/);
    } finally {
      await e.close();
    }
  });

  it('master failure → Roll back master → the run ends rolled back (R4.1)', async () => {
    const e = await startSlackE2E({ faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 } as never] });
    try {
      const { header, runId } = await planAndStartFromSlack(e);
      const summary = await approveUntil(
        e,
        header.ts,
        (t) => t.includes(`*${runId}* rolled back`),
        async (alertTs) => {
          const alert = e.api.messages(CHANNEL).find((m) => m.ts === alertTs)!;
          expect(buttonValue(alert, ACTION.recoverSkipHost)).toBeUndefined(); // not valid for the master
          const value = buttonValue(alert, ACTION.recoverRollbackMaster);
          if (!value) return false;
          expect(textOf(alert)).toContain('(R4.1)');
          await e.click(ACTION.recoverRollbackMaster, value, { user: APPROVER, messageTs: alertTs });
          return true;
        },
      );
      expect(textOf(summary)).toContain('rolled back');
      expect(e.sim.inspect().hosts.every((x) => x.productVersion === '7.1.1')).toBe(true);
    } finally {
      await e.close();
    }
  });
});
