/** What the engine and the recovery actions need of one pool (its own module: both import it, neither imports the other's). */
import type { HostProbe } from '../xenapi/probe';
import type { PoolClient, StepDeps } from './ports';
import type { StepRegistry } from './steps';

export interface PoolRuntime {
  steps: StepRegistry;
  deps: StepDeps;
  /**
   * a client for a freshly installed stand-alone host (forget-rejoin calls pool.join on it, R4.2): over https pinned to
   * the fingerprint an approver confirmed (required), never following HOST_IS_SLAVE
   */
  freshHostClient?: (address: string, fingerprint256?: string) => PoolClient & { login(): Promise<void>; logout(): Promise<void> };
  /** reads what a host presents before any login (its certificate over https), same scheme and port as the master */
  probeHost?: (address: string) => Promise<HostProbe>;
  /** 'https:' (a confirmed fingerprint is required for forget-rejoin) or 'http:' (insecure-http) */
  scheme?: 'https:' | 'http:';
  /** pinned pools: accept a rejoined member's confirmed certificate from now on */
  trustFingerprint?: (fingerprint256: string) => void;
}
