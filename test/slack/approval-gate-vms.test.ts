/** Issue 10.7: the approval request names the VMs that go down only once it is approved. */
import { approvalMessage } from '../../src/slack/blocks/approval';
import { makeRun, poolConfig, step } from './helpers/fixtures';

const textOf = (m: { blocks?: unknown[] }) => JSON.stringify(m.blocks);

describe('approval request before VM downtime (issue 10.7)', () => {
  it('names each VM it will suspend or shut down, and does not claim the host is empty', () => {
    const run = makeRun();
    const msg = approvalMessage(run, step(run, 'xs-a2:approval'), poolConfig());
    const text = textOf(msg);
    expect(text).toMatch(/Approving also stops these VMs/);
    expect(text).toMatch(/`vm-licence-srv` suspended \(R2\.5 disks on local SR local-xs-a2\)/);
    expect(text).not.toMatch(/disabled and empty/);
    expect(text).not.toMatch(/Its VMs are already elsewhere/);
    expect(text).toMatch(/First vm-licence-srv is suspended/); // the confirmation dialog says it too
  });

  it('a host with nothing to stop says it is empty and names no VM to stop', () => {
    const run = makeRun();
    const text = textOf(approvalMessage(run, step(run, 'xs-a3:approval'), poolConfig()));
    expect(text).toMatch(/disabled and empty/);
    expect(text).not.toMatch(/Approving also stops/);
  });
});
