/**
 * Domain types shared by every layer. Types only: no I/O, no behaviour.
 *
 *   xenapi records --(inventory)--> PoolSnapshot --(planner, pure)--> Plan --(runner)--> Run
 *
 * Rule numbers (R1…R6) refer to ../shared/reference/upgrade-rules.md, digested in docs/rules.md.
 */

export type Ref = string;

// ---------------------------------------------------------------------------------------------
// Pool snapshot: what the inventory reads in a constant number of XenAPI calls.
// ---------------------------------------------------------------------------------------------

export interface HostVersion {
  /** software_version.product_version, e.g. "7.1.1" */
  product: string;
  /** software_version.platform_version, e.g. "2.1.1" (what xapi compares during an RPU) */
  platform: string;
  /** software_version.build_number ("" when absent) */
  build: string;
  /** software_version.product_brand, e.g. "XenServer" */
  brand: string;
}

export interface HostInfo {
  ref: Ref;
  uuid: string;
  name: string;
  address: string;
  isMaster: boolean;
  /** host_metrics.live (the master's view) */
  live: boolean;
  enabled: boolean;
  version: HostVersion;
  apiVersion: { major: number; minor: number };
  /** bytes */
  memoryTotal: number;
  /** bytes: total − host overhead − Σ(resident VMs' dynamic_min + overhead), as host.compute_free_memory */
  memoryFree: number;
  /** Running/Paused non-dom0 VMs resident here */
  residentVms: Ref[];
  /** other_config.boot_time (seconds since epoch, float) or null when unknown */
  bootTime: number | null;
  /** boots from SAN (R2.7): XenAPI cannot tell, so only a pools-file declaration sets it (planner) */
  sanBoot: boolean;
  /** networks with an attached PIF on this host (absent when not read: not checked) */
  networks?: Ref[];
  /** cpu_info.features, hex words (absent/null when unknown: not checked) */
  cpuFeatures?: string | null;
  /** SRs this host has a currently attached PBD for */
  attachedSrs: Ref[];
  /** SRs this host has a PBD for that is NOT attached (storage problem) */
  detachedSrs: Ref[];
  /** host.suspend_image_sr (null when unset; absent when not read): xapi's last choice of suspend SR */
  suspendImageSr?: Ref | null;
}

export type PowerState = 'Running' | 'Halted' | 'Suspended' | 'Paused';

export interface VmDisk {
  vbd: Ref;
  vdi: Ref;
  sr: Ref;
}

export interface VmCdDrive {
  vbd: Ref;
  empty: boolean;
  /** VDI of the inserted ISO (null when empty or a host physical drive) */
  vdi: Ref | null;
  /** SR holding the ISO, when known */
  sr: Ref | null;
  /** VDI name_label of the ISO, for messages ("tools-7.1.iso") */
  isoName: string | null;
}

export interface VmInfo {
  ref: Ref;
  uuid: string;
  name: string;
  powerState: PowerState;
  /** null when not running */
  residentOn: Ref | null;
  affinity: Ref | null;
  /** bytes the VM needs on a host: memory_dynamic_min + memory_overhead (xapi's memory check) */
  memoryNeeded: number;
  disks: VmDisk[];
  cds: VmCdDrive[];
  /** "7.1.0" style PV drivers version, null when no drivers detected */
  toolsVersion: string | null;
  toolsUpToDate: boolean;
  /** HVM guest without PV drivers lacking feature-suspend: cannot migrate nor suspend (VM_LACKS_FEATURE) */
  lacksFeatureMigrate: boolean;
  hasPciPassthrough: boolean;
  /** ha_restart_priority ("" when unprotected) */
  haPriority: string;
  /** blocked_operations keys, e.g. ["pool_migrate"] */
  blockedOperations: string[];
  /** VM.suspend_SR (null when unset; absent when not read): xapi's first choice of suspend SR */
  suspendSr?: Ref | null;
  /** networks of its VIFs (absent when not read: not checked) */
  networks?: Ref[];
  /** last_boot_CPU_flags.features, hex words (absent/null when unknown: not checked) */
  cpuFlags?: string | null;
}

export interface NetworkInfo {
  ref: Ref;
  name: string;
  /** hosts with an attached PIF on it; none = an internal network, pinned to the host of its running VMs */
  hosts: Ref[];
}

export interface SrInfo {
  ref: Ref;
  uuid: string;
  name: string;
  type: string;
  contentType: string;
  shared: boolean;
  /** Hosts with a currently attached PBD for this SR */
  attachedHosts: Ref[];
}

export interface TaskInfo {
  ref: Ref;
  name: string;
  status: string;
  progress: number;
}

export interface PoolSnapshot {
  /** epoch ms when read */
  takenAt: number;
  pool: {
    ref: Ref;
    name: string;
    master: Ref;
    haEnabled: boolean;
    /** pool.other_config.rolling_upgrade_in_progress present */
    rollingUpgradeInProgress: boolean;
    /** pool.suspend_image_SR (null when unset; absent when not read): where VM.suspend writes its image */
    suspendImageSr?: Ref | null;
  };
  /** absent when not read */
  networks?: NetworkInfo[];
  hosts: HostInfo[];
  vms: VmInfo[];
  srs: SrInfo[];
  /** tasks pending on the pool (other operations in progress) */
  tasks: TaskInfo[];
}

// ---------------------------------------------------------------------------------------------
// Plan: the pure planner's output. Deterministic: same snapshot + options → same plan and id.
// ---------------------------------------------------------------------------------------------

export type UpgradeMode = 'automatic' | 'manual' | 'update';
export type ReturnPolicy = 'none' | 'original';
export type Severity = 'blocker' | 'warning' | 'info';

/** A fix the bot can apply after approval, or guidance for a human. */
export type PrecheckFix =
  | { kind: 'eject-cds'; vbds: Ref[] }
  /** R2.3: a VM suspended with a disc in: resume it on `host` (old version), eject, suspend it again (pool-prep) */
  | { kind: 'cycle-suspended-cds'; vms: SuspendedCdCycle[] }
  | { kind: 'disable-ha' }
  | { kind: 'suspend-vms'; vms: Ref[] }
  | { kind: 'shutdown-vms'; vms: Ref[] }
  | { kind: 'manual'; guidance: string }
  | { kind: 'none' };

export interface SuspendedCdCycle {
  vm: Ref;
  vmName: string;
  /** where it is resumed: a host not yet upgraded that sees its disks, has room and a suspend SR */
  host: Ref;
  hostName: string;
  /** its CD drives with a disc in */
  vbds: Ref[];
}

export interface Precheck {
  /** stable id, e.g. "ha-enabled", "cd-inserted", "version-path" */
  id: string;
  /** rule number, e.g. "R2.4" */
  rule: string;
  severity: Severity;
  subjects: { hosts: string[]; vms: string[] };
  message: string;
  fix: PrecheckFix;
}

export interface Migration {
  vm: Ref;
  vmName: string;
  from: Ref;
  to: Ref;
  toName: string;
}

export interface VmStop {
  vm: Ref;
  vmName: string;
  host: Ref;
  action: 'suspend' | 'shutdown';
  /** why it cannot move: rule + words, e.g. "R2.5 disks on local SR local-a2" */
  reason: string;
}

export type StepKind =
  | 'backup' // R2.1 pool database dump
  | 'pool-prep' // R2.4 disable HA, R2.3 eject CDs
  | 'disable' // R3.3
  | 'evacuate' // R3.1, R3.7
  | 'stop-vms' // R2.5/R2.6: suspend or shut down VMs that cannot move
  | 'approval' // gate before every host shutdown/reboot
  | 'upgrade' // automatic / manual / update
  | 'wait-host' // boot_time change + product version/build on target
  | 'enable'
  | 'restore-vms' // start/resume what stop-vms stopped
  | 'move-back' // return policy "original"
  | 'pool-finish' // re-enable HA, Tools reminder (R5.1)
  | 'upload-updates' // R3.10: the update ISOs uploaded once and introduced (before the first host's updates)
  | 'apply-updates'; // R3.10: precheck + apply each update on the empty host, then one reboot / toolstack restart

/** Steps after a host is back on the target and enabled: skipping the rest of such a host leaves only VMs behind. */
export const AFTER_UPGRADE_KINDS: ReadonlySet<StepKind> = new Set<StepKind>(['restore-vms', 'move-back']);

export interface PlanStep {
  /** unique within a plan, stable, e.g. "backup", "xs-a1:evacuate" */
  id: string;
  kind: StepKind;
  /** host ref for host steps */
  host?: Ref;
  hostName?: string;
  /** one line an operator reads */
  description: string;
  expectedSeconds: number;
  /** per-kind data: migrations for evacuate, stops for stop-vms, etc. */
  migrations?: Migration[];
  stops?: VmStop[];
  fixes?: PrecheckFix[];
}

export interface HostPlan {
  host: Ref;
  name: string;
  isMaster: boolean;
  from: HostVersion;
  to: { product: string; platform: string; build?: string };
  /** already on the target version: nothing to do (half-upgraded pool resumes) */
  alreadyDone: boolean;
  migrations: Migration[];
  stops: VmStop[];
  stepIds: string[];
}

/** R3.10: one update of the operator's update repository (its ISO's update.xml, src/updates/metadata.ts). */
export interface PlanUpdate {
  uuid: string;
  name: string;
  version: string;
  description: string;
  /** after_apply_guidance: restartHost, restartXAPI, restartHVM, restartPV */
  guidance: string[];
  /** uuids applied before it */
  prerequisites: string[];
  /** the ISO: an absolute path or URL the bot uploads from */
  source: string;
  /** bytes of the ISO */
  size: number;
}

/** R3.10: the updates one host gets, in apply order, and what they cost once the host is empty. */
export interface HostUpdatePlan {
  host: Ref;
  name: string;
  /** uuids, prerequisites first */
  updates: string[];
  /** host: one reboot for all; toolstack: host.restart_agent, no reboot; none */
  restart: 'host' | 'toolstack' | 'none';
}

export interface PlanUpdates {
  /** the pools file's updateRepository */
  repository: string;
  /** every update for the target, prerequisites first */
  items: PlanUpdate[];
  hosts: HostUpdatePlan[];
  /** reboots the updates add to the run (one per host at most) */
  extraReboots: number;
}

export interface Plan {
  /** sha256 over the canonical plan content (hex, first 12 chars shown to people) */
  id: string;
  pool: string;
  target: { product: string; platform: string; label: string };
  mode: UpgradeMode;
  returnPolicy: ReturnPolicy;
  /** snapshot time, epoch ms (not part of the hash) */
  createdAt: number;
  prechecks: Precheck[];
  /** false when any blocker exists */
  executable: boolean;
  hosts: HostPlan[];
  /** every step in execution order: pool steps before, host steps master first, pool steps after */
  steps: PlanStep[];
  /**
   * live migrations the plan performs and a lower bound for the VMs it keeps running; boundNote: when planned >
   * lowerBound, why, in one line (issue 13)
   */
  migrations: { planned: number; lowerBound: number; boundNote?: string };
  estimateSeconds: number;
  /** names of VMs whose Tools must be upgraded after the last host (R5.1); empty on a non-final hop (R5.3) */
  toolsUpgrade: string[];
  /** R3.10 hotfixes after the upgrade (absent when the pool has no updateRepository) */
  updates?: PlanUpdates;
  /**
   * Multi-hop (R1.4): the path-table id of the target the whole chain ends on (e.g. "7.6"). Absent: the plan's own
   * target is final. Present on every plan of a chain; a plan is a non-final hop when its `this` hop's target
   * differs from it (planner/hops.ts isFinalHop): no Tools advice then (R5.3).
   */
  finalTarget?: string;
  /** Multi-hop (R1.4): every hop of the chain, in order; this plan's steps are those of the `this` hop only */
  hops?: PlanHop[];
}

/** One hop of a multi-hop chain (R1.4), as the plan shows it: its own stage, mode and media. */
export interface PlanHop {
  /** 1-based position in the chain */
  index: number;
  /** path-table target id of the hop, e.g. "7.1.1" */
  target: string;
  label: string;
  product: string;
  platform: string;
  /** versions the hosts come from in this hop */
  from: string[];
  kind: 'base-iso' | 'update-iso';
  /** the mode of this hop's rolling upgrade; null: no media configured for it (a blocker on its plan) */
  mode: UpgradeMode | null;
  /** the install repository (no credentials), the update ISO's name, or the installer for manual mode, in words */
  media: string;
  rule: string;
  note: string;
  /** where the path rows come from (R1.6) */
  source: string;
  /** false: a row the vendor documentation kept with the project does not confirm (caveat says what) */
  confirmed: boolean;
  caveat?: string;
  /** done: an earlier run (runId); this: this plan's steps; later: planned from the live pool once the hop before is done */
  status: 'done' | 'this' | 'later';
  runId?: string;
}

// ---------------------------------------------------------------------------------------------
// Run: a plan being executed, persisted in the store.
// ---------------------------------------------------------------------------------------------

export type StepState = 'pending' | 'running' | 'awaiting-approval' | 'done' | 'failed' | 'skipped';

export type RunState =
  | 'running'
  | 'awaiting-approval'
  | 'paused' // held by an operator or a window's end
  | 'failed' // a step failed; recovery actions offered
  | 'done'
  | 'aborted'
  | 'rolled-back';

/** a run that is not over: it may hold its pool, an open gate or a recovery */
export const UNFINISHED_RUN_STATES: RunState[] = ['running', 'awaiting-approval', 'paused', 'failed'];
/** a run that is over: nothing drives it again (the states not in UNFINISHED_RUN_STATES) */
export const TERMINAL_RUN_STATES: RunState[] = ['done', 'aborted', 'rolled-back'];

export interface StepError {
  message: string;
  /** XenAPI error code when the cause was a XenAPI failure */
  code?: string;
  params?: string[];
  /** facts observed when failing, in words ("host_metrics.live = false since 03:40") */
  observed?: string[];
  /** the code names a condition the bot inferred (a wait timed out, no answer), not an answer of the pool */
  concluded?: boolean;
}

export interface StepRecord {
  id: string;
  kind: StepKind;
  host?: Ref;
  hostName?: string;
  state: StepState;
  attempts: number;
  startedAt?: number;
  endedAt?: number;
  error?: StepError;
  /** step-private durable data (boot_time before reboot, VMs' prior state and host, …) */
  data?: Record<string, unknown>;
}

export type RecoveryAction = 'retry' | 'forget-rejoin' | 'rollback-master' | 'skip-host' | 'skip-update' | 'abort';

export interface Approval {
  stepId: string;
  decision: 'approved' | 'held' | 'aborted';
  by: string;
  at: number;
}

export interface SlackRefs {
  channel: string;
  /** the run header message; replies go in its thread */
  headerTs?: string;
  /** approval/alert message ts by step id, so buttons can be replaced after a decision */
  messages?: Record<string, string>;
}

export interface Run {
  /** short and typeable: pool-a-20261125-1 */
  id: string;
  pool: string;
  plan: Plan;
  planHash: string;
  requestedBy: string;
  state: RunState;
  steps: StepRecord[];
  approvals: Approval[];
  createdAt: number;
  updatedAt: number;
  endedAt?: number;
  /** optimistic concurrency: incremented on every write */
  revision: number;
  slack?: SlackRefs;
  /** why the run stopped, when failed/aborted/rolled-back */
  outcome?: string;
  /** who paused it, while it is paused: a window resumes only a run a window paused */
  pausedBy?: { userId: string; source: Actor['source']; at: number };
  /** the pool before the run's first change (src/runner/baseline.ts) */
  baseline?: PoolBaseline;
  /** the live pool compared with the baseline and the target when the run ended (src/runner/end-audit.ts) */
  endAudit?: EndAudit;
  /** Restore after an abort (src/runner/restore.ts): who asked, how far it got */
  restore?: RestoreRecord;
  /** Multi-hop (R1.4): the run was a non-final hop; what became of the next hop (core/next-hop.ts) */
  nextHop?: NextHopRecord;
  /** R5.1 Tools checklist kept in the run's thread after the final hop (src/tools/follow-up.ts) */
  toolsFollowUp?: ToolsFollowUp;
  /**
   * The uuid of the pool the run started on (its plan's read). A restarted bot drives the run on this pool only:
   * a master that answers at the pools file's address for another pool is refused (EFOREIGNPOOL), nothing is sent
   * to it. Absent in runs started by an older version.
   */
  poolUuid?: string;
}

/**
 * Between two hops of a multi-hop upgrade. Written with the run's `done` state, before any side effect of the
 * re-plan, so a restart between hops re-plans instead of losing the chain.
 */
export interface NextHopRecord {
  /**
   * replanning: the next hop's plan is not made and posted yet (done again after a restart);
   * planned: posted, waiting for a human Start of the next hop (a gate); started: the next hop runs as `runId`;
   * failed: the re-plan could not read the pool (`error`): `/xsupgrade plan` makes it by hand
   */
  state: 'replanning' | 'planned' | 'started' | 'failed';
  /** the chain's final target id */
  finalTarget: string;
  at: number;
  planId?: string;
  planMadeAt?: number;
  runId?: string;
  error?: string;
}

/** One VM whose Tools are below the final version, as VM_guest_metrics.PV_drivers_version last showed them. */
export interface ToolsEntry {
  vm: string;
  uuid: string;
  /** "7.1.0"; null when the guest reports no PV drivers version (no guest metrics) */
  current: string | null;
  /** the final target's product version (R5.3) */
  needed: string;
}

/** The Tools follow-up of a run (R5.1, R5.3): state persisted before the Slack message it drives. */
export interface ToolsFollowUp {
  /** final target product version and label (never an intermediate hop, R5.3) */
  needed: string;
  label: string;
  openedAt: number;
  /** last time guest metrics were read */
  checkedAt: number;
  /** VMs still below `needed` */
  pending: ToolsEntry[];
  /** VMs seen reaching `needed` since the list opened (names) */
  done: string[];
  /** grows with every content change; the Dismiss button carries it (a stale click is refused) */
  version: number;
  /** the version the thread message was last queued with (0: never posted) */
  shownVersion: number;
  dismissed?: { by: string; at: number };
  /** the list became empty */
  completedAt?: number;
  /** a newer run of the pool started: this list is no longer followed (no more reminders) */
  supersededBy?: string;
  /** why the last read could not update the list (pool unreachable, R5.3 gate), shown in the message */
  note?: string;
}

export interface PoolBaseline {
  takenAt: number;
  haEnabled: boolean;
  hosts: Array<{ ref: Ref; name: string; product: string; build: string; enabled: boolean; live: boolean; bootTime: number | null }>;
  /** every guest; srs: its disks' SRs (host: the host of a local SR) */
  vms: Array<{ ref: Ref; name: string; powerState: PowerState; host: Ref | null; srs: Array<{ ref: Ref; name: string; shared: boolean; host: Ref | null }> }>;
}

/**
 * Why a VM that ran before the run does not run at its end, or a VM the run stopped is not back as it was before it
 * (what the pool shows, or what the bot concluded). left-as-found: the run stopped it and it is up now in the other
 * state (Paused though it ran, Running though it was Paused): someone else's doing, left as found by restore-vms.
 */
export type VmDownCause = 'stopped-by-run' | 'left-as-found' | 'host-restarted' | 'outside' | 'lost-local-storage' | 'gone';

export interface EndAudit {
  at: number;
  /** why the pool could not be read at the end (the audit then says only what the run recorded) */
  unreadable?: string;
  /** no baseline was recorded (a run started by an older version) */
  noBaseline?: boolean;
  /** every planned host on the target version */
  allOnTarget: boolean;
  /** planned hosts not on the target version (or gone) */
  behind: string[];
  /** planned hosts with something wrong at the end: not live, disabled, not on the target, or gone */
  hosts: Array<{
    /** its name in the live pool (the plan's when it has left the pool) */
    name: string;
    detail: string;
    /** the plan's ref of the host (HostPlan.host, before any forget & rejoin); absent in audits made by an older version */
    ref?: Ref;
    /**
     * its product version as read from the live pool at the end ("7.1.1"); absent when it was not read there: it has
     * left the pool (`ref` set), or an older version made the audit (no `ref`; then its version is not known as observed)
     */
    version?: string;
    /** its build as read from the live pool at the end, when it reports one; absent in audits made by an older version */
    build?: string;
  }>;
  vms: Array<{ name: string; cause: VmDownCause; now: string; why: string }>;
  ha: { before: boolean; now: boolean | null; disabledByRun: boolean; line?: string };
  backup: { usable: boolean; path?: string; why: string };
  /**
   * migrated: live migrations the run recorded as carried out (off each host, and home again under return policy
   * "original"); stopped: VMs the run stopped; restarted: of those, the ones Running again as before the run;
   * backPaused: the ones Paused again as before the run (R3.7/R6.2 start_paused), not in `restarted`; absent when
   * none, and in audits made by an older version. VMs left as found are the `vms` with cause 'left-as-found'.
   */
  counts: { migrated: number; stopped: number; restarted: number; backPaused?: number };
  /** one line per thing left changed or broken; empty means nothing is left over */
  leftovers: string[];
  /** what differs from the baseline (hosts disabled, upgraded or down; VMs moved or down; HA): the abort summary */
  changed: string[];
  /** R3.10: per host with planned updates, the updates it has now and the planned ones it lacks (skipped ones too) */
  updates?: Array<{ name: string; has: string[]; missing: string[]; skipped: string[] }>;
  /** R3.10: the update ISOs this run uploaded that are off the SR now (pool_update.pool_clean), and what is left there, with why */
  updateFiles?: { removed: string[]; left: string[] };
}

export interface RestoreRecord {
  by: string;
  at: number;
  /** partial: something could not be put back (said in `left`); Restore may be clicked again */
  state: 'running' | 'done' | 'partial';
  /** what Restore did, in words */
  did: string[];
  /** what it could not put back, with why */
  left: string[];
}

export interface AuditEvent {
  at: number;
  runId: string;
  kind: 'state' | 'step' | 'approval' | 'xenapi' | 'refused' | 'lease' | 'resume' | 'recovery' | 'notify';
  /** who did it: a Slack user id, "cli", "scheduler", "runner" */
  actor: string;
  message: string;
  detail?: Record<string, unknown>;
}

/** Who is asking, from any interface. */
export interface Actor {
  userId: string;
  source: 'slack' | 'cli' | 'scheduler' | 'sandbox';
  /** Slack user group ids the user belongs to, when known */
  groups?: string[];
  channel?: string;
  /** source 'scheduler': the maintenance window acting on behalf of its creator (userId) */
  window?: string;
}
