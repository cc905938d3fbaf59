/**
 * The gate before every host shutdown/reboot: done only when an approver's approval for this step is recorded
 * in the run (written by core.approve). No timeout ever lets the run proceed by itself.
 */
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { mention } from '../../domain/mention';

export function createApprovalStep(_deps: StepDeps): StepModule {
  return {
    kind: 'approval',
    async execute(ctx) {
      const approval = ctx.run.approvals.find((a) => a.stepId === ctx.step.id && a.decision === 'approved');
      if (approval) return { status: 'done', note: `approved by ${mention(approval.by)}` };
      return { status: 'awaiting-approval' };
    },
  };
}
