/** The step modules, one per kind, built from one set of dependencies (per pool). */
import type { StepKind } from '../../domain/types';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { createApprovalStep } from './approval';
import { createBackupStep } from './backup';
import { createDisableStep } from './disable';
import { createEnableStep } from './enable';
import { createEvacuateStep } from './evacuate';
import { createMoveBackStep } from './move-back';
import { createPoolFinishStep } from './pool-finish';
import { createPoolPrepStep } from './pool-prep';
import { createRestoreVmsStep } from './restore-vms';
import { createStopVmsStep } from './stop-vms';
import { createUpgradeStep } from './upgrade';
import { createWaitHostStep } from './wait-host';
import { createApplyUpdatesStep } from './apply-updates';
import { createUploadUpdatesStep } from './upload-updates';

export type StepRegistry = Record<StepKind, StepModule>;

export function createSteps(deps: StepDeps): StepRegistry {
  return {
    backup: createBackupStep(deps),
    'pool-prep': createPoolPrepStep(deps),
    disable: createDisableStep(deps),
    evacuate: createEvacuateStep(deps),
    'stop-vms': createStopVmsStep(deps),
    approval: createApprovalStep(deps),
    upgrade: createUpgradeStep(deps),
    'wait-host': createWaitHostStep(deps),
    enable: createEnableStep(deps),
    'restore-vms': createRestoreVmsStep(deps),
    'move-back': createMoveBackStep(deps),
    'pool-finish': createPoolFinishStep(deps),
    'upload-updates': createUploadUpdatesStep(deps),
    'apply-updates': createApplyUpdatesStep(deps),
  };
}
