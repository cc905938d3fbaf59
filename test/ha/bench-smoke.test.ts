import { benchHa, formatHaBench } from '../../bench/ha';

jest.setTimeout(240_000);

test('the HA benchmark measures both backends and a failover on a small run', async () => {
  const r = await benchHa({ n: 20, kills: 1, leaseTtlMs: 2000 });
  expect(r.skipped).toBeUndefined();
  expect(new Set(r.latency.map((x) => x.backend))).toEqual(new Set(['sqlite', 'postgres']));
  expect(r.latency.every((x) => x.p50Ms >= 0 && x.p99Ms >= x.p50Ms)).toBe(true);
  expect(r.failover?.runState).toBe('done');
  expect(r.failover?.kills).toHaveLength(1);
  const [kill] = r.failover!.kills;
  expect(kill.successor).not.toBe(kill.victim);
  // a take-over waits for the lease to expire: never before it
  expect(kill.failoverMs).toBeGreaterThanOrEqual(kill.leaseLeftMs);
  expect(formatHaBench(r)).toMatch(/failover \(lease TTL 2000 ms/);
});
