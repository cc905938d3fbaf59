/** What the engine and the recovery actions need of one pool (its own module: both import it, neither imports the other's). */
import type { PoolClient, StepDeps } from './ports';
import type { StepRegistry } from './steps';

export interface PoolRuntime {
  steps: StepRegistry;
  deps: StepDeps;
  /** a client for a freshly installed stand-alone host (forget-rejoin calls pool.join on it, R4.2) */
  freshHostClient?: (address: string) => PoolClient & { login(): Promise<void>; logout(): Promise<void> };
}
