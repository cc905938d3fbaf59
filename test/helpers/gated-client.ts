import { XenApiClient } from '../../src/xenapi';
import type { RecordBatches } from '../../src/xenapi/record-batches';
import type { RecordClass } from '../../src/xenapi/records';

/**
 * A real XenApiClient whose next call of one kind waits until the test lets it go: to order two commands
 * deterministically, or to hold a side effect while the test changes the world around it.
 */
export class GatedClient extends XenApiClient {
  private readonly gates = new Map<string, { reached: () => void; release: Promise<void> }>();

  /**
   * The next `what` (an RPC method, or `<class> read` for getAllRecords) waits; `reached` resolves when it is
   * reached; `release` lets it go, `fail` makes it throw `err` without sending it.
   */
  hold(what: string): { reached: Promise<void>; release: () => void; fail: (err: Error) => void } {
    let release!: () => void;
    let fail!: (err: Error) => void;
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    released.catch(() => undefined); // failed before it was reached: thrown to the call that reaches it
    this.gates.set(what, { reached, release: released });
    return { reached: atGate, release, fail };
  }

  private async pass(what: string): Promise<void> {
    const gate = this.gates.get(what);
    if (!gate) return;
    this.gates.delete(what);
    gate.reached();
    await gate.release;
  }

  override async call<T = unknown>(method: string, params: unknown[] = [], opts = {}): Promise<T> {
    await this.pass(method);
    return super.call<T>(method, params, opts);
  }

  /** getAllRecords reads through this too (readSnapshot calls it directly) */
  override async getAllRecordBatches<C extends RecordClass>(cls: C): Promise<RecordBatches<C>> {
    await this.pass(`${cls} read`);
    return super.getAllRecordBatches(cls);
  }
}
