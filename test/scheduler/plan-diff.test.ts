import { planDifferences, planDiffers, replanOptions } from '../../src/scheduler/plan-diff';
import type { HostPlan, Plan, Precheck } from '../../src/domain/types';
import { samplePlan } from '../store/fixtures/sample';

const host = (name: string, over: Partial<HostPlan> = {}): HostPlan => ({
  host: `OpaqueRef:${name}`,
  name,
  isMaster: name.endsWith('1'),
  from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
  to: { product: '7.6.0', platform: '3.0.0' },
  alreadyDone: false,
  migrations: [],
  stops: [],
  stepIds: [],
  ...over,
});
const blocker = (id: string, hosts: string[] = []): Precheck => ({
  id,
  rule: 'R2.4',
  severity: 'blocker',
  subjects: { hosts, vms: [] },
  message: `${id} blocks`,
  fix: { kind: 'none' },
});
const plan = (over: Partial<Plan> = {}): Plan => samplePlan({ hosts: [host('xs-a1'), host('xs-a2'), host('xs-a3')], ...over });

describe('planDiffers: what needs a new approval at a window start', () => {
  test('an identical re-plan (new id, time, estimates, migration targets) does not differ', () => {
    const a = plan();
    const b = plan({
      id: 'other', createdAt: 99, estimateSeconds: 999,
      hosts: [host('xs-a1', { migrations: [{ vm: 'v', vmName: 'vm1', from: 'h1', to: 'h3', toName: 'xs-a3' }] }), host('xs-a2'), host('xs-a3')],
      prechecks: [{ ...blocker('tools-old'), severity: 'warning' }],
    });
    expect(planDiffers(a, b)).toBe(false);
    expect(planDifferences(a, b)).toEqual([]);
  });

  test('a new blocker differs and is named', () => {
    const d = planDifferences(plan(), plan({ prechecks: [blocker('ha-enabled')], executable: false }));
    expect(d).toEqual(expect.arrayContaining([expect.stringMatching(/new blockers: R2.4 ha-enabled blocks/), 'the plan is no longer executable']));
  });

  test('VMs to stop differ', () => {
    const withStop = plan({
      hosts: [host('xs-a1'), host('xs-a2', { stops: [{ vm: 'r', vmName: 'db-1', host: 'h2', action: 'shutdown', reason: 'R2.5 local disk' }] }), host('xs-a3')],
    });
    expect(planDifferences(plan(), withStop)).toEqual(['VMs to stop added: db-1 shutdown']);
    expect(planDifferences(withStop, plan())).toEqual(['VMs to stop removed: db-1 shutdown']);
  });

  test('host order differs (including a host that got upgraded meanwhile)', () => {
    expect(planDiffers(plan(), plan({ hosts: [host('xs-a1'), host('xs-a3'), host('xs-a2')] }))).toBe(true);
    expect(planDifferences(plan(), plan({ hosts: [host('xs-a1'), host('xs-a2', { alreadyDone: true }), host('xs-a3')] }))).toEqual([
      'host order changed from [xs-a1, xs-a2, xs-a3] to [xs-a1, xs-a3]',
    ]);
  });

  test('target and mode differ', () => {
    expect(planDifferences(plan(), plan({ mode: 'manual' }))).toEqual(['upgrade mode changed from automatic to manual']);
    expect(planDiffers(plan(), plan({ target: { product: '8.2.0', platform: '3.2.0', label: 'XenServer 8.2' } }))).toBe(true);
  });
});

describe('replanOptions: a window re-plans towards what was approved, as core.start does', () => {
  test("the approved plan's target and mode, not the pools file's defaults", () => {
    const approved = samplePlan({ mode: 'manual', target: { product: '7.6.0', platform: '3.0.0', label: 'XenServer 7.6' } });
    expect(replanOptions(approved)).toEqual({ target: '7.6.0', mode: 'manual' });
  });
  test("a hop of a multi-hop chain: towards the chain's final target, the hop's mode from the pools file", () => {
    const approved = samplePlan({ mode: 'automatic', finalTarget: '8.2.1', target: { product: '7.1.1', platform: '2.1.1', label: 'XenServer 7.1 CU1' } });
    expect(replanOptions(approved)).toEqual({ target: '8.2.1' });
  });
});
