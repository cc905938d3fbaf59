import type { UpgradeMode } from '../domain/types';

/**
 * Expected step durations in seconds: planning figures shown to people (and used for the run's estimate),
 * not timeouts. Live migration copies memory: ~8 s per GiB plus a fixed cost (10 GbE management network).
 */
export const DURATIONS = {
  backup: 30,
  poolPrepBase: 15,
  disableHa: 60,
  ejectCd: 3,
  disable: 5,
  migrationFixed: 5,
  migrationPerGiB: 8,
  suspendPerVm: 30,
  shutdownPerVm: 45,
  resumePerVm: 30,
  startPerVm: 60,
  approval: 0, // a human decides; not part of the estimate
  enable: 10,
  poolFinishBase: 15,
  enableHa: 90,
  upgrade: { automatic: 120, manual: 60, update: 300 } satisfies Record<UpgradeMode, number>,
  /** install + boot (automatic, manual) or reboot (update) until xapi answers on the target version */
  waitHost: { automatic: 2400, manual: 2700, update: 600 } satisfies Record<UpgradeMode, number>,
};

export function migrationSeconds(memoryBytes: number): number {
  return Math.round(DURATIONS.migrationFixed + (memoryBytes / 1024 ** 3) * DURATIONS.migrationPerGiB);
}
