/**
 * The scrape-time run collector (issue 14's /metrics, issue 13's cost): every stored run is counted by state from
 * its head alone; only unfinished runs are read whole for their open gates, so a scrape does not decode the plan of
 * every run ever made.
 */
import { openStore, type Store } from '../../src/store';
import { runCollector } from '../../src/observe/run-metrics';
import { metricsText } from '../../src/observe/metrics';
import type { Clock } from '../../src/clock';
import { sampleRun } from '../store/fixtures/sample';
import { parsePrometheusText } from './prom-text';

const clock: Clock = { now: () => 100_000, sleep: async () => undefined, scale: 1 };

async function scrape(): Promise<Map<string, number>> {
  const samples = parsePrometheusText(await metricsText()).samples;
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name === 'xsupgrade_runs') out.set(`runs:${s.labels.state}`, s.value);
    if (s.name === 'xsupgrade_gates_waiting' || s.name === 'xsupgrade_gate_oldest_age_seconds') out.set(s.name, s.value);
  }
  return out;
}

describe('run collector', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ path: ':memory:', clock });
  });
  afterEach(async () => store.close());

  it('counts runs by state, and the gates waiting in unfinished runs only, reading only those runs whole', async () => {
    const gate = (startedAt: number) => ({ id: 'h1:approval', kind: 'approval' as const, state: 'awaiting-approval' as const, attempts: 0, startedAt });
    for (let i = 0; i < 5; i++) await store.createRun(sampleRun(`done-${i}`, { state: 'done', createdAt: i }));
    await store.createRun(sampleRun('waiting', { state: 'awaiting-approval', steps: [gate(40_000)] }));
    await store.createRun(sampleRun('paused', { state: 'paused', steps: [gate(70_000)] }));
    // a finished run with a step still marked waiting (an abort at a gate) is no gate waiting
    await store.createRun(sampleRun('aborted', { state: 'aborted', steps: [gate(10_000)] }));

    const wholeReads: string[][] = [];
    const counted = {
      listRunHeads: store.listRunHeads.bind(store),
      listRuns: async (filter?: Parameters<Store['listRuns']>[0]) => {
        const runs = await store.listRuns(filter);
        wholeReads.push(runs.map((r) => r.id));
        return runs;
      },
    };
    await runCollector(counted, clock)();
    const m = await scrape();
    expect(m.get('runs:done')).toBe(5);
    expect(m.get('runs:awaiting-approval')).toBe(1);
    expect(m.get('runs:paused')).toBe(1);
    expect(m.get('runs:aborted')).toBe(1);
    expect(m.get('runs:running')).toBe(0);
    expect(m.get('xsupgrade_gates_waiting')).toBe(2);
    expect(m.get('xsupgrade_gate_oldest_age_seconds')).toBe(60);
    expect(wholeReads.flat().sort()).toEqual(['paused', 'waiting']);
  });
});
