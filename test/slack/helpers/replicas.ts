/**
 * Replicas (or successive processes) sharing one SQLite state file and one fake Slack, each with its own store
 * connection, outbox and notifier: the world of the stored-outbox tests (a refresh left stored, then restored or
 * adopted by another).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/clock';
import type { Run } from '../../../src/domain/types';
import { startFakeSlackApi, type FakeSlackApi } from '../../../src/sandbox/fake-web-api';
import { SlackNotifier } from '../../../src/slack/notifier';
import { Outbox } from '../../../src/slack/outbox';
import { createWebClient } from '../../../src/slack/web-client';
import { openStore, replicaOutbox, type Store } from '../../../src/store';
import { poolConfig } from './fixtures';
import { captureLogs } from './logs';

/**
 * Sleeps resolve at once, except those started while `hold` is set: they wait until their signal aborts
 * (outbox.stop()), so a failed message is still waiting for its retry when its outbox stops.
 */
export class HoldingClock implements Clock {
  readonly scale = 1;
  hold = false;
  /** sleeps waiting for an abort */
  held = 0;
  t = Date.UTC(2026, 10, 25, 3, 0);
  /** `sleepsAdvance`: each sleep also moves the clock on by its length */
  constructor(private readonly sleepsAdvance = false) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.sleepsAdvance) this.t += ms;
    const held = this.hold;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (!held) return void setImmediate(resolve);
      this.held++;
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

/** Call start() before each test and stop() after it; replica() between them. */
export class SharedStateReplicas {
  api!: FakeSlackApi;
  clock!: HoldingClock;
  private dir = '';
  private readonly stores: Store[] = [];
  private readonly outboxes: Outbox[] = [];

  /** `ttl`: the replicas' heartbeat TTL; `dirPrefix`: the temporary folder of the state file */
  constructor(
    private readonly token: string,
    private readonly dirPrefix: string,
    private readonly ttl: number,
  ) {}

  /** a fake Slack answering `token`, an empty folder for the state file, a new HoldingClock */
  async start(): Promise<{ api: FakeSlackApi; clock: HoldingClock }> {
    this.api = await startFakeSlackApi({ token: this.token });
    this.dir = mkdtempSync(join(tmpdir(), this.dirPrefix));
    this.clock = new HoldingClock();
    return { api: this.api, clock: this.clock };
  }

  /** stops every outbox, closes every store, stops the fake Slack, removes the folder */
  async stop(): Promise<void> {
    for (const o of this.outboxes.splice(0)) await o.stop();
    for (const s of this.stores.splice(0)) await s.close();
    await this.api.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** one replica (its heartbeat written now), its outbox not yet restored; `loadRun`, the notifier's read of the run */
  async replica(name: string, loadRun?: (runId: string) => Promise<Run | undefined>) {
    const { clock, token, api } = this;
    const store = await openStore({ path: join(this.dir, 'state.sqlite'), clock });
    this.stores.push(store);
    await store.heartbeat(name, this.ttl, clock.now());
    const logs = captureLogs();
    const outbox = new Outbox({ client: createWebClient({ botToken: token, slackApiUrl: api.url }, logs.logger), clock, logger: logs.logger, store: replicaOutbox(store, name, clock), minIntervalMs: 0 });
    this.outboxes.push(outbox);
    const notifier = new SlackNotifier({ outbox, pools: [poolConfig()], clock, logger: logs.logger, loadRun });
    return { store, outbox, notifier, logs };
  }
}
