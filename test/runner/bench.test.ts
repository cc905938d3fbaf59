/** bench/run.ts measures what it claims, on a small pool (the 16-host figure is `npm run bench`). */
import { benchRun, formatRunBench } from '../../bench/run';

it('benchRun: total = Σ hosts’ own times + overhead, and a noticing delay per host', async () => {
  const r = await benchRun({ hosts: 3, vmsPerHost: 2, scale: 3000, print: false });
  expect(r.state).toBe('done');
  expect(r.perHost.map((h) => h.host)).toEqual(['xs-01', 'xs-02', 'xs-03']);
  for (const h of r.perHost) {
    expect(h.installBootMs).toBeGreaterThanOrEqual((1200 + 120 + 30) * 1000); // the simulated install + boot + xapi start
    expect(h.noticeMs).toBeGreaterThanOrEqual(0);
  }
  expect(r.overheadMs).toBeCloseTo(r.totalMs - r.ownMs);
  expect(r.overheadMs).toBeGreaterThan(0);
  expect(formatRunBench(r)).toMatch(/orchestration overhead/);
});
