/** migrateVms: failed migrations are reported per VM; an interrupted run is not a migration failure. */
import { RunInterrupted } from '../../src/runner/errors';
import { migrateVms } from '../../src/runner/steps/common';
import type { StepContext } from '../../src/runner/step';

const moves = [
  { vm: 'ref-vm1', vmName: 'vm1', to: 'ref-h2', toName: 'h2' },
  { vm: 'ref-vm2', vmName: 'vm2', to: 'ref-h2', toName: 'h2' },
];

function ctxWith(act: (method: string, params: unknown[]) => Promise<unknown>): StepContext {
  return { act, checkpoint: async () => undefined, signal: new AbortController().signal } as unknown as StepContext;
}

describe('migrateVms', () => {
  it('returns each failed migration with its error', async () => {
    const failed = await migrateVms(
      ctxWith(async (_m, params) => {
        if (params[0] === 'ref-vm2') throw Object.assign(new Error('VM_MIGRATE_FAILED'), { code: 'VM_MIGRATE_FAILED', params: [] });
      }),
      2,
      moves,
      { checkpoint: 'moved' },
    );
    expect(failed.map((f) => f.move.vmName)).toEqual(['vm2']);
  });

  it('rethrows an interruption (run aborted elsewhere) instead of reporting it as a failed migration', async () => {
    const ctx = ctxWith(async () => {
      throw new RunInterrupted('run pool-a-1 is aborted: no further action');
    });
    await expect(migrateVms(ctx, 2, moves, { checkpoint: 'moved' })).rejects.toBeInstanceOf(RunInterrupted);
  });
});
