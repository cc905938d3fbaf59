/** Issue 10.7: the approval request names the VMs that go down only once it is approved. */
import { approvalMessage } from '../../src/slack/blocks/approval';
import { MAX_CHARS, messageChars } from '../../src/slack/blocks/common';
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

describe('a host of desktops on local storage (a hundred VMs or more to stop)', () => {
  const withStops = (n: number) => {
    const run = makeRun();
    const host = run.plan.hosts.find((h) => h.name === 'xs-a2')!;
    const template = host.stops[0]!;
    host.stops = Array.from({ length: n }, (_, i) => ({ ...template, vm: `OpaqueRef:desk-${i}`, vmName: `desktop-${String(i).padStart(4, '0')}`, reason: i % 3 ? 'R2.5 disks on local SR local-xs-a2' : 'R2.6 a CD in its drive' }));
    return approvalMessage(run, step(run, 'xs-a2:approval'), poolConfig());
  };

  it('still fits one Slack message with its buttons, and names every VM grouped by what is done and why', () => {
    const msg = withStops(150);
    expect(messageChars(msg)).toBeLessThanOrEqual(MAX_CHARS);
    const text = textOf(msg);
    expect(text).toContain('"action_id":"approval_approve"');
    for (let i = 0; i < 150; i++) expect(text).toContain(`desktop-${String(i).padStart(4, '0')}`);
    expect(text).toMatch(/• 100 VMs suspended \(R2\.5 disks on local SR local-xs-a2\): `desktop-0001`, `desktop-0002`, `desktop-0004`/);
    expect(text).toMatch(/• 50 VMs suspended \(R2\.6 a CD in its drive\): `desktop-0000`, `desktop-0003`/);
  });

  it('past a few hundred, it names what fits and says how many are not named', () => {
    const msg = withStops(1000);
    expect(messageChars(msg)).toBeLessThanOrEqual(MAX_CHARS);
    const text = textOf(msg);
    expect(text).toContain('"action_id":"approval_approve"');
    // named in the message's text (the confirm dialog names a few more, cut at its own limit)
    const named = new Set(JSON.stringify(msg.blocks!.filter((b) => b.type === 'section')).match(/desktop-\d{4}/g)).size;
    expect(named).toBeGreaterThan(200);
    expect(text).toContain(`… ${1000 - named} VMs not named here, to fit one Slack message`);
  });

  it('a few VMs keep a line each', () => {
    expect(textOf(withStops(5))).toMatch(/• `desktop-0000` suspended \(R2\.6 a CD in its drive\)\\n• `desktop-0001` suspended/);
  });
});
