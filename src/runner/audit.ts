/** Appending to a run's audit log, and the best-effort notifier calls (a failing notifier never stops a run). */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { AuditEvent } from '../domain/types';
import type { RunStore } from './ports';

export type AuditKind = AuditEvent['kind'];

export function auditor(store: RunStore, clock: Clock) {
  return (runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>): Promise<void> =>
    store.appendAudit(auditEvent(clock, runId, kind, actor, message, detail));
}

/** An audit event of now; appended by auditor, or with a run's change in one transaction (store updateRun's audit). */
export function auditEvent(clock: Clock, runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>): AuditEvent {
  return { at: clock.now(), runId, kind, actor, message, ...(detail ? { detail } : {}) };
}

/**
 * Notifications per run are queued in order and never awaited by the run itself; a failure is a warning.
 * `flush()` waits for what is queued (tests, shutdown).
 */
export class NotifyQueue {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly logger: Logger) {}

  push(key: string, what: string, fn: () => Promise<void>): void {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev
      .then(fn)
      .catch((err: unknown) => this.logger.warn({ err: (err as Error)?.message ?? String(err), notify: what, key }, 'notifier call failed (best-effort)'));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  async flush(key?: string): Promise<void> {
    const pending = key ? [this.chains.get(key)] : [...this.chains.values()];
    await Promise.all(pending.filter(Boolean));
  }
}
