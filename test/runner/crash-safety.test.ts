/**
 * Crash safety (issue 4, Done-when): a real runner process (test/runner/crash/child.ts) is SIGKILLed at every step
 * boundary and in the middle of each step kind of a 3-host run, and restarted each time on the same SQLite file,
 * while the simulator keeps running in this process. The run must complete with no host shut down twice, never two
 * hosts down at once, every VM accounted for, and the audit log showing each resume.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ScaledClock } from '../../src/clock';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore } from '../../src/store';
import { midKey } from './crash/child-keys';
import { poolConfigFor, runningVmPlacement } from './sim-harness';

const SCALE = 4000;
const CHILD = resolve(__dirname, 'crash/child.ts');
const HOOK = resolve(__dirname, 'crash/ts-hook.js');

interface ChildResult {
  kind: 'checkpoint' | 'finished' | 'failed' | 'error' | 'exit';
  detail: string;
}

function runChild(env: NodeJS.ProcessEnv, onLine?: (line: string) => void): { child: ChildProcess; result: Promise<ChildResult> } {
  const child = spawn(process.execPath, ['-r', HOOK, CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<ChildResult>((res) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      onLine?.(line);
      if (line.startsWith('CHECKPOINT ')) res({ kind: 'checkpoint', detail: line.slice(11) });
      else if (line.startsWith('FINISHED ')) res({ kind: 'finished', detail: line.slice(9) });
      else if (line.startsWith('FAILED ')) res({ kind: 'failed', detail: line.slice(7) });
      else if (line.startsWith('ERROR ')) res({ kind: 'error', detail: line.slice(6) });
    });
    child.on('exit', (code, signal) => res({ kind: 'exit', detail: `code ${code} signal ${signal} ${stderr.slice(-2000)}` }));
  });
  return { child, result };
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGKILL');
  });
}

// 40+ child processes in sequence: 47–76 s on the shared 2-core machine, past jest's 60 s default
jest.setTimeout(240_000);

describe('crash safety', () => {
  let sim: SimPool | undefined;
  let dir = '';
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const c of children) await kill(c);
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILL at every step boundary and mid-step of each kind: the run completes safely', async () => {
    const r0 = Date.now();
    const clock = new ScaledClock(SCALE, r0);
    sim = await startSimulator(loadScenario(resolve(__dirname, 'crash/pool-c.yaml')), { clock });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-crash-'));
    mkdirSync(join(dir, 'cache'));
    const before = runningVmPlacement(sim);
    const halted = sim.inspect().vms.filter((v) => v.powerState !== 'Running').map((v) => `${v.name}:${v.powerState}`);
    const pool = poolConfigFor(sim, 'automatic', { returnPolicy: 'original' });
    const killedSteps: string[] = [];
    const killedKinds = new Set<string>();
    const midLabels: string[] = [];
    const base = {
      CLOCK_SCALE: String(SCALE),
      CLOCK_R0: String(r0),
      STATE_PATH: join(dir, 'state.sqlite'),
      BACKUPS: join(dir, 'backups'),
      POOL_JSON: JSON.stringify(pool),
      XS_SIM_PASSWORD: sim.password,
      LEASE_TTL_MS: String(5 * 60_000),
      TS_HOOK_CACHE: join(dir, 'cache'),
    };

    let restarts = 0;
    let final: ChildResult | undefined;
    for (let i = 0; i < 80 && !final; i++) {
      const { child, result } = runChild({
        ...base,
        MODE: i === 0 ? 'start' : 'resume',
        OWNER: `runner-${i}`, // a new process each time: it takes over the dead one's lease after expiry
        KILLED_STEPS: killedSteps.join(','),
        KILLED_KINDS: [...killedKinds].join(','),
      });
      children.push(child);
      const r = await result;
      if (r.kind === 'checkpoint') {
        await kill(child);
        restarts++;
        const label = r.detail;
        if (label.startsWith('before:')) killedSteps.push(label.slice(7));
        else {
          killedKinds.add(midKey(label));
          midLabels.push(label);
        }
        continue;
      }
      final = r;
    }
    expect(final).toEqual({ kind: 'finished', detail: 'done' });
    expect(restarts).toBeGreaterThan(30);

    // every step boundary and a mid-step point of every kind in the plan were hit
    const store = await openStore({ path: base.STATE_PATH });
    try {
      const [run] = await store.listRuns({ pool: 'pool-c' });
      expect(run!.state).toBe('done');
      expect(new Set(killedSteps)).toEqual(new Set(run!.steps.map((s) => s.id)));
      expect(new Set([...killedKinds].map((k) => k.split(':')[0]))).toEqual(new Set(run!.steps.map((s) => s.kind)));
      // inside the upgrade step: after the marker, right after host.reboot went out, and before it was recorded
      // (the master's reboot is among them: killed while it was going down)
      for (const point of ['before-shutdown', 'did:host.reboot', 'after-shutdown', 'executed']) {
        expect(midLabels.some((l) => l.endsWith(`:upgrade:${point}`))).toBe(true);
      }
      expect(midLabels).toContain('xc-1:upgrade:did:host.reboot');
      const audit = await store.listAudit(run!.id);
      expect(audit.filter((e) => e.kind === 'resume' && /resuming run/.test(e.message)).length).toBe(restarts);
      expect(audit.some((e) => e.kind === 'lease' && /took over/.test(e.message))).toBe(true);
    } finally {
      await store.close();
    }

    const stats = sim.stats();
    expect(stats.shutdowns).toEqual({ 'xc-1': 1, 'xc-2': 1, 'xc-3': 1 });
    expect(stats.maxHostsDownAtOnce).toBeLessThanOrEqual(1);
    const view = sim.inspect();
    expect(view.hosts.every((h) => h.productVersion === '7.6.0' && h.enabled)).toBe(true);
    expect(view.pool.haEnabled).toBe(true);
    // every VM accounted for: running ones back on their original host (policy original), the halted one untouched
    expect(runningVmPlacement(sim)).toEqual(before);
    expect(view.vms.filter((v) => v.powerState !== 'Running').map((v) => `${v.name}:${v.powerState}`)).toEqual(halted);
    // 40-odd runner processes each start, connect over HTTPS (a TLS handshake each) and resume: about a minute on a
    // loaded 2-core machine; the limit only guards against a hang, it asserts no duration
  }, 240_000);
});
