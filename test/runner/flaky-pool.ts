/** A simulator + core whose XenAPI client can lose an answer and then see the pool unreachable for a while. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../src/clock';
import type { PoolConfig } from '../../src/config/pools';
import type { CoreHandle } from '../../src/core';
import type { Run } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { loadScenario, startSimulator, type Scenario, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { XenApiClient } from '../../src/xenapi';
import { XenApiConnectionError } from '../../src/xenapi/errors';
import { recordingNotifier } from './helpers';
import { APPROVER, coreForSim, poolConfigFor } from './sim-harness';

type SendFn = (host: string, method: string, params: unknown[], opts?: unknown) => Promise<unknown>;

export interface Ctl {
  /** every method this bot's clients sent (or tried to) */
  calls: string[];
  /** methods refused while the pool was "down" */
  refused: string[];
  /** clock time until which every call fails with ECONNREFUSED */
  downUntil: number;
  /** after this call reached the pool, its answer is lost and the pool is down for `outageMs` */
  loseAnswer?: (method: string, params: unknown[]) => boolean;
  outageMs: number;
  /** this call never returns (the bot "dies" waiting for it); sent to the pool first when `send` is true */
  hang?: (method: string, params: unknown[]) => { send: boolean } | undefined;
}

export function wrapClient(c: XenApiClient, clock: ScaledClock, ctl: Ctl): XenApiClient {
  const holder = c as unknown as { send: SendFn };
  const orig = holder.send.bind(c);
  holder.send = async (host, method, params, opts) => {
    ctl.calls.push(method);
    if (clock.now() < ctl.downUntil) {
      ctl.refused.push(method);
      throw new XenApiConnectionError(`connect ECONNREFUSED ${host}:443`, host, method, 'ECONNREFUSED');
    }
    const h = ctl.hang?.(method, params);
    if (h) {
      if (h.send) await orig(host, method, params, opts);
      return new Promise(() => undefined);
    }
    const v = await orig(host, method, params, opts);
    if (ctl.loseAnswer?.(method, params)) {
      ctl.loseAnswer = undefined;
      ctl.downUntil = clock.now() + ctl.outageMs;
      throw new XenApiConnectionError('socket hang up', host, method, 'ECONNRESET');
    }
    return v;
  };
  return c;
}

export interface FHarness {
  sim: SimPool;
  store: Store;
  clock: ScaledClock;
  core: CoreHandle;
  pool: PoolConfig;
  notifier: ReturnType<typeof recordingNotifier>;
  ctl: Ctl;
  dir: string;
  newCore(ownerId: string, ctl: Ctl): Promise<{ core: CoreHandle; notifier: ReturnType<typeof recordingNotifier> }>;
  close(): Promise<void>;
}

export async function startFlaky(scenario: string, opts: { edit?: (s: Scenario) => void; ctl?: Partial<Ctl>; autoApprove?: boolean; scale?: number } = {}): Promise<FHarness> {
  const clock = new ScaledClock(opts.scale ?? 3000);
  const sc = loadScenario(scenario);
  opts.edit?.(sc);
  const sim = await startSimulator(sc, { clock });
  const store = await openStore({ path: ':memory:', clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-flaky-'));
  const pool = poolConfigFor(sim, 'automatic');
  const ctl: Ctl = { calls: [], refused: [], downUntil: 0, outageMs: 0, ...opts.ctl };
  const cores: CoreHandle[] = [];
  const make = async (ownerId: string, c: Ctl) => {
    let core: CoreHandle | undefined;
    const notifier = recordingNotifier({
      approvalNeeded: async (run, step) => {
        if (opts.autoApprove !== false) await core!.approve(run.id, step.id, APPROVER);
      },
    });
    core = await coreForSim(sim, {
      store,
      clock,
      dir,
      ownerId,
      pool,
      notifier,
      clientFactory: (p) => wrapClient(new XenApiClient({ url: p.masterUrl, username: p.username, password: sim.password, tls: p.tls, clock, logger: silentLogger }), clock, c),
    });
    cores.push(core);
    return { core, notifier };
  };
  const first = await make('test-runner', ctl);
  return {
    sim,
    store,
    clock,
    core: first.core,
    notifier: first.notifier,
    pool,
    ctl,
    dir,
    newCore: make,
    async close() {
      for (const c of cores) await Promise.race([c.shutdown(), new Promise((r) => setTimeout(r, 2000))]);
      await sim.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const stoppedRecords = (r: Run, stepId: string): Record<string, { name: string; action: string; stopped?: boolean; untouched?: boolean; issued?: unknown }> =>
  (r.steps.find((s) => s.id === stepId)?.data?.stopped ?? {}) as Record<string, { name: string; action: string; stopped?: boolean; untouched?: boolean; issued?: unknown }>;
