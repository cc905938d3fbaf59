/**
 * Dispatch of one XML-RPC call on one machine: xapi-starting hosts answer HOST_STILL_BOOTING, slaves
 * HOST_IS_SLAVE [master address], then method lookup, arity, session check, the handler; `Async.`
 * calls return a task whose result is the XML-RPC encoding of the value.
 */
import { lowestRole, roleAllows, ROLES } from '../domain/rbac';
import './api/session';
import './api/generic';
import './api/event';
import './api/task';
import './api/host';
import './api/vm';
import './api/pool';
import { Machine, PoolState, Sim } from './engine';
import { XapiFailure } from './failure';
import { ApiCtx, METHODS } from './api/registry';
import { taskRecord } from './records';
import { encodeValue, WireValue } from './wire';

export type Outcome =
  | { kind: 'success'; value: WireValue }
  | { kind: 'failure'; description: string[] }
  | { kind: 'fault'; code: number; message: string }
  | { kind: 'reset' };

const SESSIONLESS_ON_SLAVE = new Set(['system.listMethods']);

function failure(code: string, ...params: string[]): Outcome {
  return { kind: 'failure', description: [code, ...params] };
}

export async function dispatch(sim: Sim, m: Machine, method: string, params: unknown[], signal: AbortSignal): Promise<Outcome> {
  sim.stats.calls[method] = (sim.stats.calls[method] ?? 0) + 1;
  const resetFault = sim.takeFault('connection-reset', (f) => f.method === method && (!f.host || f.host === m.name) && f.when === 'before');
  if (resetFault) return { kind: 'reset' };
  const out = await dispatchInner(sim, m, method, params, signal);
  if (sim.takeFault('connection-reset', (f) => f.method === method && (!f.host || f.host === m.name) && f.when === 'after')) return { kind: 'reset' };
  return out;
}

async function dispatchInner(sim: Sim, m: Machine, method: string, params: unknown[], signal: AbortSignal): Promise<Outcome> {
  if (m.phase === 'xapi-starting' && method !== 'system.listMethods') return failure('HOST_STILL_BOOTING');
  const pool = m.pool;
  if (!pool) return failure('INTERNAL_ERROR', 'host is not part of any pool');
  if (pool.master !== m && !SESSIONLESS_ON_SLAVE.has(method)) return failure('HOST_IS_SLAVE', pool.master.address);

  const isAsync = method.startsWith('Async.');
  const name = isAsync ? method.slice('Async.'.length) : method;
  const spec = METHODS.get(name);
  if (!spec) return failure('MESSAGE_METHOD_UNKNOWN', method);
  if (isAsync && spec.async === false) return { kind: 'fault', code: -1, message: `Async.${name} is not supported (session-only message)` };
  const needsSession = spec.session !== false;
  const total = spec.params + (needsSession ? 1 : 0);
  const min = (spec.min ?? spec.params) + (needsSession ? 1 : 0);
  if (params.length < min || params.length > total) return failure('MESSAGE_PARAMETER_COUNT_MISMATCH', method, String(total), String(params.length));
  let session = '';
  if (needsSession) {
    session = typeof params[0] === 'string' ? params[0] : String(params[0]);
    const s = pool.sessions.get(session);
    if (!s) return failure('SESSION_INVALID', session);
    // RBAC as xapi: a role without the call's permission is refused before anything runs (issue 14)
    if (s.role !== undefined && !roleAllows(s.role, name)) {
      const permission = name.toLowerCase();
      const roles = ROLES.slice(ROLES.indexOf(lowestRole(permission))).join(', ');
      return failure('RBAC_PERMISSION_DENIED', permission, `No permission in user session. (Roles with this permission: ${roles})`);
    }
  }
  const args = needsSession ? params.slice(1) : params;
  const ctx: ApiCtx = { sim, pool, machine: m, session, method, signal, task: null, setProgress: () => undefined };
  if (isAsync) return { kind: 'success', value: startTask(ctx, method, () => spec.handler(ctx, args)) };
  try {
    return { kind: 'success', value: await spec.handler(ctx, args) };
  } catch (err) {
    return toOutcome(err);
  }
}

function toOutcome(err: unknown): Outcome {
  if (err instanceof XapiFailure) return { kind: 'failure', description: err.description };
  return failure('INTERNAL_ERROR', (err as Error)?.message ?? String(err));
}

function startTask(ctx: ApiCtx, wireName: string, run: () => WireValue | Promise<WireValue>): string {
  const { pool, sim } = ctx;
  const task = pool.db.create('task', taskRecord(wireName, pool.master.hostRef, sim.clock.now()));
  const controller = new AbortController();
  pool.taskControllers.set(task, controller);
  ctx.task = task;
  // The task outlives the HTTP request: only a cancel, a master shutdown or stop() aborts it.
  ctx.signal = AbortSignal.any([controller.signal, sim.stopper.signal]);
  ctx.setProgress = (p) => {
    if (pool.db.has('task', task)) pool.db.update('task', task, { progress: Math.max(0, Math.min(1, p)) });
  };
  void (async () => {
    let fields: Record<string, WireValue>;
    try {
      const value = await run();
      fields = { status: 'success', progress: 1, result: encodeValue(value) };
    } catch (err) {
      if (controller.signal.aborted && pool.db.find('task', task)?.status === 'cancelling')
        fields = { status: 'cancelled', error_info: ['TASK_CANCELLED', task] };
      else fields = { status: 'failure', error_info: toOutcomeDescription(err) };
    }
    pool.taskControllers.delete(task);
    if (pool.db.has('task', task)) pool.db.update('task', task, { ...fields, finished: new Date(sim.clock.now()), allowed_operations: [] });
  })();
  return task;
}

function toOutcomeDescription(err: unknown): string[] {
  const o = toOutcome(err);
  return o.kind === 'failure' ? o.description : ['INTERNAL_ERROR', String(err)];
}

export type { PoolState };
