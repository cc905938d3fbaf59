/** The planner search benchmark on the two small pools of issue 13: well-formed rows and the counts it reports. */
import { benchPlanSearch, formatPlanSearchBench, searchPools } from '../../bench/plan-search';

it('benchPlanSearch: the issue pools reach their bound and fewer stops than the previous planner', () => {
  const rows = benchPlanSearch(searchPools().slice(0, 2), 1);
  expect(rows.map((r) => [r.pool, r.hosts, r.vms])).toEqual([
    ['issue-16-hosts', 16, 69],
    ['issue-3-hosts-tight', 3, 11],
  ]);
  const [sixteen, three] = rows;
  expect(sixteen).toMatchObject({ stops: 0, planned: 81, lowerBound: 81, before: { stops: 0, planned: 90 } });
  expect(three).toMatchObject({ stops: 3, outcome: 'exact', before: { stops: 5 } });
  expect(three!.nodes).toBeGreaterThan(0);
  expect(formatPlanSearchBench(rows)).toContain('| issue-16-hosts | 16 | 69 | optimal |');
});
