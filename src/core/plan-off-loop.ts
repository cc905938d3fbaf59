/**
 * buildPlan off the event loop for large pools (issue 13): planning 64 hosts × 50 VMs takes one to two seconds of
 * synchronous work, during which the bot could not acknowledge a Slack command (Slack wants it within 3 s) or serve
 * another pool. The snapshot and the options are plain data; they are copied to a worker thread that runs the very
 * same buildPlan, and the plan (plain data) comes back. Small pools are planned in-process: their plan takes a few
 * milliseconds, less than starting a worker. The worker loads the compiled planner, so under ts-jest (sources only)
 * every plan is made in-process.
 */
import { Worker } from 'node:worker_threads';
import type { Plan, PoolSnapshot } from '../domain/types';
import { buildPlan, type PlanOptions } from '../planner';

/** From this many VMs a plan is made in a worker thread. */
export const OFF_LOOP_VMS = 500;

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  try {
    const { buildPlan } = require(workerData.planner);
    parentPort.postMessage({ plan: buildPlan(workerData.snapshot, workerData.opts) });
  } catch (e) {
    parentPort.postMessage({ error: (e && e.message) || String(e), name: e && e.name });
  }`;

/** The compiled planner module next to this one, or undefined when running from sources. */
function compiledPlanner(): string | undefined {
  if (!__filename.endsWith('.js')) return undefined;
  const path = require.resolve('../planner');
  return path.endsWith('.js') ? path : undefined;
}

export async function buildPlanOffLoop(snapshot: PoolSnapshot, opts: PlanOptions): Promise<Plan> {
  const planner = compiledPlanner();
  if (!planner || snapshot.vms.length < OFF_LOOP_VMS) return buildPlan(snapshot, opts);
  return new Promise<Plan>((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { planner, snapshot, opts } });
    let settled = false;
    worker.once('message', (m: { plan?: Plan; error?: string; name?: string }) => {
      settled = true;
      if (m.plan) resolve(m.plan);
      else reject(Object.assign(new Error(m.error ?? 'the planner failed'), { name: m.name ?? 'Error' }));
      void worker.terminate();
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the planner's worker thread exited (code ${code}) without a plan`));
    });
  });
}
