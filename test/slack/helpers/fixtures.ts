import type { PoolConfig } from '../../../src/config/pools';
import type { HostPlan, Plan, PlanStep, Run, StepKind, StepRecord } from '../../../src/domain/types';

/** A small, realistic 3-host pool-a plan and run (master xs-a1 first), for block and listener tests. */

export const CHANNEL = 'C0XSUPGRADE';
export const REQUESTER = 'U0KENJI';
export const APPROVER = 'U0MIKA';
export const OUTSIDER = 'U0SAM';
export const GROUP = 'S0OPSLEADS';

export function poolConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    name: 'pool-a',
    masterUrl: 'http://127.0.0.2:34567',
    username: 'root',
    passwordEnv: 'XS_POOL_A_PASSWORD',
    tls: { mode: 'insecure-http' },
    target: '7.6',
    upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.local/7.6/' },
    slack: { channel: CHANNEL, approvers: { users: [APPROVER], groups: [GROUP] }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
    ...overrides,
  };
}

const HOST_KINDS: StepKind[] = ['disable', 'evacuate', 'approval', 'stop-vms', 'upgrade', 'wait-host', 'enable', 'restore-vms'];

function hostPlan(name: string, isMaster: boolean, migrations: Array<[string, string]>, stops: string[] = []): HostPlan {
  return {
    host: `OpaqueRef:${name}`,
    name,
    isMaster,
    from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
    to: { product: '7.6.0', platform: '2.6.0' },
    alreadyDone: false,
    migrations: migrations.map(([vm, to], i) => ({ vm: `OpaqueRef:vm-${name}-${i}`, vmName: vm, from: `OpaqueRef:${name}`, to: `OpaqueRef:${to}`, toName: to })),
    stops: stops.map((vm) => ({ vm: `OpaqueRef:${vm}`, vmName: vm, host: `OpaqueRef:${name}`, action: 'suspend' as const, reason: `R2.5 disks on local SR local-${name}` })),
    stepIds: HOST_KINDS.map((k) => `${name}:${k}`),
  };
}

export function makePlan(overrides: Partial<Plan> = {}): Plan {
  const hosts = [
    hostPlan('xs-a1', true, [['vm-web-1', 'xs-a2'], ['vm-web-2', 'xs-a2'], ['vm-db-1', 'xs-a3']]),
    hostPlan('xs-a2', false, [['vm-app-1', 'xs-a1'], ['vm-app-2', 'xs-a1']], ['vm-licence-srv']),
    hostPlan('xs-a3', false, [['vm-db-2', 'xs-a1']]),
  ];
  const steps: PlanStep[] = [
    { id: 'backup', kind: 'backup', description: 'back up the pool database (R2.1)', expectedSeconds: 30 },
    { id: 'pool-prep', kind: 'pool-prep', description: 'disable HA (R2.4)', expectedSeconds: 10, fixes: [{ kind: 'disable-ha' }] },
    ...hosts.flatMap((h) =>
      HOST_KINDS.map((kind) => ({
        id: `${h.name}:${kind}`,
        kind,
        host: h.host,
        hostName: h.name,
        description: kind === 'upgrade' ? `prepare_host_upgrade on ${h.name}, reboot into the installer` : `${kind} ${h.name}`,
        expectedSeconds: kind === 'wait-host' ? 3600 : 60,
      })),
    ),
    { id: 'pool-finish', kind: 'pool-finish', description: 're-enable HA', expectedSeconds: 10 },
  ];
  return {
    id: '3f9c0a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab',
    pool: 'pool-a',
    target: { product: '7.6.0', platform: '2.6.0', label: 'XenServer 7.6' },
    mode: 'automatic',
    returnPolicy: 'none',
    createdAt: Date.UTC(2026, 10, 25, 2, 0),
    prechecks: [],
    executable: true,
    hosts,
    steps,
    migrations: { planned: 6, lowerBound: 6 },
    estimateSeconds: 7800,
    toolsUpgrade: ['vm-web-1', 'vm-web-2'],
    ...overrides,
  };
}

export function makeRun(overrides: Partial<Run> = {}): Run {
  const plan = overrides.plan ?? makePlan();
  const steps: StepRecord[] = plan.steps.map((s) => ({ id: s.id, kind: s.kind, host: s.host, hostName: s.hostName, state: 'pending', attempts: 0 }));
  return {
    id: 'pool-a-20261125-1',
    pool: 'pool-a',
    plan,
    planHash: plan.id,
    requestedBy: REQUESTER,
    state: 'running',
    steps,
    approvals: [],
    createdAt: Date.UTC(2026, 10, 25, 2, 5),
    updatedAt: Date.UTC(2026, 10, 25, 2, 5),
    revision: 1,
    ...overrides,
  };
}

/** Marks steps (by id prefix or exact id) with a state; returns a new run with revision+1. */
export function withSteps(run: Run, states: Record<string, Partial<StepRecord>>): Run {
  return {
    ...run,
    revision: run.revision + 1,
    steps: run.steps.map((s) => {
      const patch = states[s.id] ?? states[s.hostName ? `${s.hostName}:*` : ''] ?? {};
      return { ...s, ...patch };
    }),
  };
}

export function step(run: Run, id: string): StepRecord {
  const s = run.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
}
