/**
 * `/xsupgrade status <run>` of a 64-host run (~600 steps) stays within what Slack accepts for one message (50
 * blocks, ~12k characters in all: msg_blocks_too_long above about 13.2k): a host whose steps are all done, or all
 * still to do, is one line; the step that failed is always shown; what is left out is said, with where to see it.
 */
import type { HostPlan, PlanStep, Run, StepKind } from '../../src/domain/types';
import { LIMIT, MAX_CHARS, blocksTextLength, messageChars } from '../../src/slack/blocks/common';
import { runDetailReply } from '../../src/slack/blocks/replies';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { LIMITS } from '../../src/sandbox/block-kit-limits';
import { makePlan, makeRun, poolConfig } from './helpers/fixtures';

const KINDS: StepKind[] = ['disable', 'evacuate', 'approval', 'stop-vms', 'upgrade', 'wait-host', 'enable', 'restore-vms'];

/** A run of `n` hosts: the first `done` hosts finished, the next one failed at its upgrade, the others pending. */
function largeRun(n: number, done: number): Run {
  const base = makePlan();
  const names = Array.from({ length: n }, (_, i) => `xs-${String(i + 1).padStart(2, '0')}`);
  const hosts: HostPlan[] = names.map((name, i) => ({ ...base.hosts[1]!, host: `OpaqueRef:${name}`, name, isMaster: i === 0, stepIds: KINDS.map((k) => `${name}:${k}`) }));
  const steps: PlanStep[] = [
    base.steps[0]!,
    ...names.flatMap((name) => KINDS.map((kind) => ({ id: `${name}:${kind}`, kind, host: `OpaqueRef:${name}`, hostName: name, description: `${kind} ${name}`, expectedSeconds: 60 }))),
  ];
  const run = makeRun({ plan: makePlan({ hosts, steps }), state: 'failed' });
  run.steps.forEach((s, i) => {
    const hostIndex = Math.floor((i - 1) / KINDS.length);
    if (i === 0 || hostIndex < done) {
      s.state = 'done';
      s.data = { note: `${s.id} finished after a long and detailed note of what was observed on the pool` };
    } else if (hostIndex === done && s.kind === 'upgrade') {
      s.state = 'failed';
      s.error = { message: 'prepare_host_upgrade.py main failed: ERROR_PREPARING_HOST', code: 'XENAPI_PLUGIN_FAILURE' };
    } else if (hostIndex === done && KINDS.indexOf(s.kind) < KINDS.indexOf('upgrade')) s.state = 'done';
  });
  return run;
}

describe('status of a large run', () => {
  it('fits one Slack message, each finished host in one line, the failed step shown', () => {
    const run = largeRun(64, 40);
    const m = runDetailReply(run, 'UTC', 'https://slack.example/thread');
    expect(m.blocks!.length).toBeLessThanOrEqual(LIMIT.blocks);
    expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
    const text = JSON.stringify(m.blocks);
    expect(text).toContain('`xs-41:upgrade` failed — prepare_host_upgrade.py main failed: ERROR_PREPARING_HOST');
    expect(text).toContain('✅ `xs-01`: 8 steps done');
    expect(text).toContain('⏸ `xs-64`: 8 steps pending');
    expect(text).toContain('`xs-41:disable` done');
  });

  it('a run too large even so says how many lines it left out and where every step is listed; the failed step stays', () => {
    const run = largeRun(64, 40);
    // every host half done: no host collapses to one line
    for (const s of run.steps) if (s.kind === 'restore-vms' && s.state === 'done') s.state = 'skipped';
    const m = runDetailReply(run, 'UTC');
    expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
    const text = JSON.stringify(m.blocks);
    expect(text).toMatch(/… \d+ more line\(s\) not shown \(Slack's message size\): `xsupgrade status pool-a-20261125-1` lists every step/);
    expect(text).toContain('`xs-41:upgrade` failed');
  });

  it('a small run lists every step as before', () => {
    const run = largeRun(3, 1);
    const text = JSON.stringify(runDetailReply(run, 'UTC').blocks);
    expect(text).toContain('`xs-01:restore-vms` done');
    expect(text).not.toMatch(/steps done|not shown/);
  });

  it('the run header and the end-of-run summary of a 64-host run fit one Slack message too', () => {
    const run = largeRun(64, 40);
    const header = runHeaderMessage(run, poolConfig());
    expect(header.blocks!.length).toBeLessThanOrEqual(LIMIT.blocks);
    expect(blocksTextLength(header.blocks)).toBeLessThanOrEqual(LIMITS.messageBlocksText);
    const ended: Run = { ...run, state: 'aborted', endedAt: run.createdAt + 3_600_000, outcome: 'aborted by <@U0MIKA>' };
    const end = runEndMessages(ended, poolConfig(), { toolsFollowUp: false }).summary;
    expect(end.blocks!.length).toBeLessThanOrEqual(LIMIT.blocks);
    expect(blocksTextLength(end.blocks)).toBeLessThanOrEqual(LIMITS.messageBlocksText);
  });
});
