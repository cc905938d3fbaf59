/**
 * R5.3 (issue 15): no Tools advice before the final hop. A plan whose `finalTarget` differs from its `target` (a
 * middle hop of a multi-hop chain, R1.4) gives none in its notes and steps, its pool-finish step gives none on the live
 * pool, and the end-of-run message gives none — each says why instead, through the one predicate (toolsAdviceGate).
 */
import { ScaledClock } from '../../src/clock';
import type { Plan, Run } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { createPoolFinishStep } from '../../src/runner/steps/pool-finish';
import type { StepContext } from '../../src/runner/step';
import type { StepDeps } from '../../src/runner/ports';
import { parseScenario, startSimulator } from '../../src/sim';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { XenApiClient } from '../../src/xenapi';
import { threeHostPool } from '../planner/builder';
import { checks, plan } from '../planner/helpers';
import { middleHopOf } from './chain';
import { samplePlan, sampleRun } from '../store/fixtures/sample';

const T76 = { product: '7.6.0', platform: '2.7.0', label: 'XenServer 7.6' };
const T821 = { product: '8.2.1', platform: '3.2.1', label: 'Citrix Hypervisor 8.2 CU1' };

describe('plan', () => {
  it('the last hop (or a single one) notes the Tools to upgrade (R5.1)', () => {
    const p = plan(threeHostPool().build());
    expect(checks(p, 'tools')).toEqual([expect.objectContaining({ rule: 'R5.1' })]);
    expect(p.toolsUpgrade.length).toBeGreaterThan(0);
    expect(p.finalTarget).toBeUndefined();
  });

  // a middle hop's plan (no list, no note, a pool-finish step without Tools): test/planner/hops.test.ts
});

describe('pool-finish on the live pool', () => {
  async function finish(planOver: Partial<Plan>, config: Partial<StepDeps['config']> = { toolsFollowUp: true }): Promise<string> {
    const sim = await startSimulator(
      parseScenario(
        {
          pool: { name: 'pool-f', password: 'pw-f' },
          hosts: [
            { name: 'xs-f1', master: true, productVersion: '7.6.0', platformVersion: '2.7.0' },
            { name: 'xs-f2', productVersion: '7.6.0', platformVersion: '2.7.0' },
          ],
          vms: [{ name: 'app-1', host: 'xs-f1', tools: '7.1.0' }],
        },
        'final-hop',
      ),
      { clock: new ScaledClock(1000), http: true },
    );
    try {
      const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
      const said: string[] = [];
      const run: Run = sampleRun('pool-f-20261203-1', { pool: 'pool-f', plan: samplePlan({ pool: 'pool-f', target: T76, toolsUpgrade: ['app-1'], ...planOver }) });
      const ctx = {
        run,
        dataOf: () => undefined,
        resolveHost: (r: string) => r,
        say: async (t: string) => void said.push(t),
      } as unknown as StepContext;
      const out = await createPoolFinishStep({ client, logger: silentLogger, config } as unknown as StepDeps).execute(ctx);
      expect(out.status).toBe('done');
      return said.join('\n');
    } finally {
      await sim.stop();
    }
  }

  it('the final hop: every host on it, the Tools are named (R5.1)', async () => {
    expect(await finish({})).toMatch(/upgrade the XenServer Tools in: app-1 \(R5\.1\)/);
  });

  it('driven by `xsupgrade serve` (it ticks the Tools follow-up): the checklist follows in the thread', async () => {
    expect(await finish({}, { toolsFollowUp: true })).toMatch(/app-1 \(R5\.1\); the Tools checklist in this thread follows them/);
  });

  it('driven from the terminal (`xsupgrade run`, nothing ticks the follow-up): it says who keeps the checklist instead', async () => {
    const text = await finish({}, {});
    expect(text).toMatch(/upgrade the XenServer Tools in: app-1 \(R5\.1\)/);
    expect(text).not.toMatch(/in this thread/);
    expect(text).toMatch(/no Tools checklist follows from this process: `xsupgrade serve` on the same state keeps it in the pool's Slack channel \(for a run that ended within 7 days\); `\/xsupgrade tools pool-f` there shows the live list/);
  });

  it('a middle hop: every host on the hop\'s target, still no Tools advice (R5.3)', async () => {
    const text = await finish(middleHopOf(T76, T821));
    expect(text).not.toMatch(/upgrade the XenServer Tools in/);
    expect(text).toMatch(/do not upgrade the XenServer Tools yet: Tools advice waits until every host runs 8\.2\.1 \(R5\.3\): xs-f1 still runs 7\.6\.0, xs-f2 still runs 7\.6\.0/);
  });
});

describe('end-of-run message', () => {
  const done = (p: Partial<Plan>): Run =>
    sampleRun('pool-a-20261203-1', {
      state: 'done',
      endedAt: 5_000,
      plan: samplePlan({
        target: T76,
        toolsUpgrade: ['vm-1', 'vm-2'],
        hosts: [{ host: 'OpaqueRef:h1', name: 'h1', isMaster: true, from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' }, to: { product: '7.6.0', platform: '2.7.0' }, alreadyDone: true, migrations: [], stops: [], stepIds: [] }],
        ...p,
      }),
    });
  const text = (r: Run, toolsFollowUp = true) => JSON.stringify(runEndMessages(r, undefined, { toolsFollowUp }).summary.blocks);

  it('the final hop points to the Tools checklist in the thread (R5.1)', () => {
    expect(text(done({}))).toMatch(/Next \(R5\.1\): upgrade XenServer Tools in 2 VMs: `vm-1`, `vm-2` → the Tools checklist in this thread/);
  });

  it('a bot without the Tools follow-up does not promise a checklist in the thread', () => {
    const t = text(done({}), false);
    expect(t).toMatch(/Next \(R5\.1\): upgrade XenServer Tools in 2 VMs: `vm-1`, `vm-2`/);
    expect(t).not.toMatch(/checklist in this thread/);
    expect(t).toMatch(/no Tools checklist follows: this bot runs without the Tools follow-up/);
  });

  it('a middle hop gives no Tools advice and says why (R5.3)', () => {
    const t = text(done(middleHopOf(T76, T821)));
    expect(t).not.toMatch(/Next \(R5\.1\)/);
    expect(t).toMatch(/Do not upgrade XenServer Tools yet: Tools advice waits until every host runs 8\.2\.1 \(R5\.3\): h1 still runs 7\.6\.0/);
  });
});
