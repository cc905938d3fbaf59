import type { KnownBlock } from '@slack/types';
import type { Run } from '../../domain/types';
import { restoreOffer } from '../../runner/restore';
import { button, confirm } from './common';
import { ACTION, encodeButtonValue } from './ids';

/**
 * The Restore button of an aborted run (issue 10.7), with what it will put back in its confirmation. Shown while the
 * run's records say something can be put back; the click is re-validated by Core against the live pool.
 */
export function restoreButton(run: Run): KnownBlock[] {
  if (run.restore?.state === 'done') return [];
  const offer = restoreOffer(run);
  if (!offer) return [];
  const what = [
    ...(offer.enableHost && offer.host ? [`enable ${offer.host.name}`] : []),
    ...offer.vms.map((v) => `${v.action === 'suspend' ? 'resume' : 'start'} ${v.name}`),
    ...(offer.ha ? ['re-enable HA (only once every host runs the same version)'] : []),
  ];
  return [
    {
      type: 'actions',
      block_id: `restore:${run.id}`,
      elements: [
        button({
          text: run.restore ? 'Restore again' : 'Restore',
          actionId: ACTION.runRestore,
          value: encodeButtonValue({ runId: run.id }),
          style: 'primary',
          confirm: confirm({
            title: `Restore ${run.id}?`,
            text: `Put back what the run changed: ${what.join(', ')}. Live migrations are not undone.`,
            confirm: 'Restore',
          }),
        }),
      ],
    },
  ];
}
