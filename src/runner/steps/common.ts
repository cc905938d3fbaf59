/** Helpers shared by the step modules. */
import { compareVersions } from '../../domain/versions';
import type { HostPlan, Ref } from '../../domain/types';
import { StepFailure } from '../errors';
import { describeHost, hostByRef, type LiveHost, type LiveHosts } from '../pool-state';
import type { StepContext } from '../step';

/** The (possibly replaced, R4.2) host ref this host step acts on. */
export function stepHostRef(ctx: StepContext): Ref {
  const ref = ctx.planStep.host ?? ctx.step.host;
  if (!ref) throw new StepFailure(`step ${ctx.step.id} has no host`);
  return ctx.resolveHost(ref);
}

export function stepHostName(ctx: StepContext): string {
  return ctx.planStep.hostName ?? ctx.step.hostName ?? ctx.step.id.split(':')[0] ?? '?';
}

export function requireHost(ctx: StepContext, pool: LiveHosts): LiveHost {
  const ref = stepHostRef(ctx);
  const host = hostByRef(pool, ref);
  if (!host) {
    throw new StepFailure(`${stepHostName(ctx)} is no longer a member of the pool`, {
      observed: [`host ${ref} not in host.get_all_records`, ...pool.hosts.map(describeHost)],
    });
  }
  return host;
}

/** Is the host on the plan's target: product version (numerically) and build when the plan names one. */
export function isOnTarget(host: Pick<LiveHost, 'product' | 'build'>, to: HostPlan['to']): boolean {
  if (compareVersions(host.product, to.product) !== 0) return false;
  return !to.build || to.build === host.build;
}

export function versionText(v: { product: string; build?: string }): string {
  return `${v.product || '?'}${v.build ? ` build ${v.build}` : ''}`;
}

/** Run `fn` over items with at most `limit` in flight; all results, failures included, in input order. */
export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Serialises saves of one growing object so concurrent workers never overwrite each other's entries. */
export function serialSaver(ctx: StepContext, key: string, initial: Record<string, unknown>) {
  const value: Record<string, unknown> = { ...initial };
  let chain: Promise<void> = Promise.resolve();
  return {
    value,
    set(k: string, v: unknown): Promise<void> {
      value[k] = v;
      chain = chain.then(() => ctx.saveData({ [key]: { ...value } }));
      return chain;
    },
  };
}
