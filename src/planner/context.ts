import type { HostInfo, PlanHop, PoolSnapshot, Precheck, Ref, ReturnPolicy, SrInfo, UpgradeMode, VmInfo } from '../domain/types';
import type { SessionPermissions } from '../domain/rbac';
import type { Mobility } from './mobility';
import type { HostPath, UpgradePathTable, UpgradeTarget } from './paths';
import type { PlacementResult } from './placement';

export interface PlanOptions {
  pool: string;
  /** "7.6", "8.2.1", an alias from the path table */
  target: string;
  mode: UpgradeMode;
  returnPolicy: ReturnPolicy;
  paths: UpgradePathTable;
  repository?: {
    url: string;
    testResults?: Record<Ref, { ok: boolean; error?: string }>;
    /** names of the updates applied on each host (pool_update.hosts), for the RPU hotfix check; absent: not read */
    hotfixes?: Record<Ref, string[]>;
    /** why the applied updates could not be read */
    hotfixError?: string;
  };
  /** a run already active on this pool (from the store) */
  activeRunId?: string;
  /** the pool session's RBAC permissions, read before planning (absent: not checked) */
  permissions?: SessionPermissions;
  /** R2.7: hosts declared in the pools file as booting from SAN (XenAPI cannot tell; pools.ts sanBootHosts) */
  sanBootHosts?: string[];
  /** the latest backup of this pool the bot took that holds pool data (from the store), for a pool in mixed mode (R2.1) */
  lastUsableBackup?: { path: string; runId: string };
  /** the configured media of `target`, in words (repository URL without credentials, update name), for the hop list */
  media?: string;
  /**
   * Multi-hop (R1.4): mode and media of intermediate targets, by path-table id (the pools file's `hops`). `mode` and
   * `repository` above are the final target's; a hop's plan gets its own from here.
   */
  hopMedia?: Record<string, { mode: UpgradeMode; media: string }>;
  /** Multi-hop: hops already done by earlier runs of this chain (status 'done'), when re-planning between hops */
  priorHops?: PlanHop[];
}

/** Multi-hop context of one plan (planner/hops.ts), for the prechecks. */
export interface HopContext {
  hops: PlanHop[];
  current: PlanHop;
  final: UpgradeTarget;
  /** there are hops after this one: no Tools advice (R5.3) */
  nonFinal: boolean;
}

/** Everything a precheck may read, computed once by buildPlan. */
export interface PrecheckContext {
  opts: PlanOptions;
  /** undefined when opts.target is not in the path table (a blocker) */
  target: UpgradeTarget | undefined;
  paths: Map<Ref, HostPath>;
  /** hosts to upgrade, in plan order */
  order: HostInfo[];
  placement: PlacementResult;
  mobility: Map<Ref, Mobility>;
  hosts: Map<Ref, HostInfo>;
  vms: Map<Ref, VmInfo>;
  srs: Map<Ref, SrInfo>;
  hostName(ref: Ref | null | undefined): string;
  /** Multi-hop (R1.4): present when this plan is one hop of a chain */
  hop?: HopContext;
  /** why no chain exists for hosts without a direct path (R1.4), when it was looked for */
  chainRefusal?: string;
}

export type PrecheckFn = (snapshot: PoolSnapshot, ctx: PrecheckContext) => Precheck[];

export const GiB = 1024 ** 3;
export const fmtGiB = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;

/** "a, b, c and 4 more": keeps one-line messages short for big pools */
export function listNames(names: string[], max = 6): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
