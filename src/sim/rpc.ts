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
import './api/updates';
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
  if (m.phase === 'xapi-starting' && method !== 'system.listMethods') {
    // a slave started while its master is away is in emergency mode: every call, logins included (reference D2)
    if (m.emergencyError) return { kind: 'failure', description: m.emergencyError };
    // a master starting up serves logins and reads once its management interface is up (the listener opens then);
    // only host.enable answers HOST_STILL_BOOTING until start-up completes (reference D1)
    if (m.pool?.master !== m) return failure('HOST_STILL_BOOTING');
  }
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
  const run = () => {
    injectedError(sim, pool, method, args);
    return spec.handler(ctx, args);
  };
  if (isAsync) return { kind: 'success', value: startTask(ctx, method, run) };
  try {
    return { kind: 'success', value: await run() };
  } catch (err) {
    return toOutcome(err);
  }
}

/**
 * An `api-error` fault: the call fails with the scenario's code (the errors a real pool raises that the model does
 * not produce by itself, reference's per-step table). `host`/`vm` narrow it to calls naming that host or VM (a VBD
 * argument names its VM). An Async call's task fails with it.
 */
function injectedError(sim: Sim, pool: PoolState, method: string, args: unknown[]): void {
  const name = method.replace(/^Async\./, '');
  const named = new Set<string>();
  for (const a of args) {
    if (typeof a !== 'string') continue;
    named.add(a);
    const vbd = pool.db.find('VBD', a);
    if (vbd) named.add(vbd.VM as string);
  }
  const refOf = (cls: 'host' | 'VM', label: string) => pool.db.entries(cls).find(([, r]) => r.name_label === label)?.[0];
  const f = sim.takeFault(
    'api-error',
    (x) =>
      // `VM.suspend` matches both forms, `Async.VM.suspend` only the Async one
      (x.method === name || x.method === method) &&
      (!x.host || named.has(refOf('host', x.host) ?? '-')) &&
      (!x.vm || named.has(refOf('VM', x.vm) ?? '-')) &&
      (!x.update || named.has(pool.db.entries('pool_update').find(([, r]) => r.name_label === x.update)?.[0] ?? '-')),
  );
  if (f) throw new XapiFailure(f.code!, f.params ?? (typeof args[0] === 'string' ? [args[0]] : []));
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
