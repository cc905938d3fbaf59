/**
 * The simulator in a child process (issue 13): the bot's CPU time (process.cpuUsage, which counts every thread of
 * a process, worker threads included) and its event loop are then the bot's alone, as with a real pool on other
 * machines. The child runs this very module, compiled (dist/bench/sim-process.js), and loads the compiled simulator:
 * it is used only when compiledSimModule() exists (npm run bench), never under ts-jest.
 *
 * The two processes share one simulated time: the child's ScaledClock is built so that it reads what the
 * parent's clock reads (same scale, origin shifted by the real time the child took to start).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { ScaledClock } from '../src/clock';
import type { Scenario, SimStats } from '../src/sim';
import type { SimHandle } from './slack';

interface StartMessage {
  simModule: string;
  scenario: Scenario;
  clock?: { scale: number; at: number; realAt: number };
  nice?: number;
}

type Reply =
  | { kind: 'started'; masterUrl: string; username: string; password: string; tls: SimHandle['tls']; name: string; niced: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'stats'; stats: SimStats };

export interface ChildSimHandle extends SimHandle {
  name: string;
  pid: number;
  /** every thread of the simulator's process runs at the nice value asked for (false: not asked, or not Linux) */
  niced: boolean;
  stats(): Promise<SimStats>;
}

/**
 * Starts the compiled simulator (`simModule`, dist/src/sim) in a child process; `clock` is the bot's clock. With
 * `nice` (Linux), every thread of the child runs at that nice value: at 19 the simulator gets the CPU the bot leaves
 * idle, which is the nearest this machine comes to xapi on a host of its own (bench/read.ts).
 */
export async function startInChildProcess(scenario: Scenario, simModule: string, clock?: ScaledClock, nice?: number): Promise<ChildSimHandle> {
  const child: ChildProcess = fork(__filename, ['--sim-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const replies: Reply[] = [];
  const waiters: Array<(r: Reply) => void> = [];
  child.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m as Reply);
    else replies.push(m as Reply);
  });
  const next = () =>
    new Promise<Reply>((resolve, reject) => {
      const r = replies.shift();
      if (r) return resolve(r);
      waiters.push(resolve);
      child.once('exit', (code) => reject(new Error(`simulator process exited (${code})`)));
    });
  const msg: StartMessage = { simModule, scenario, clock: clock ? { scale: clock.scale, at: clock.now(), realAt: Date.now() } : undefined, nice };
  child.send(msg);
  const first = await next();
  if (first.kind !== 'started') {
    child.kill();
    throw new Error(`simulator process: ${first.kind === 'error' ? first.message : 'unexpected answer'}`);
  }
  return {
    masterUrl: first.masterUrl,
    username: first.username,
    password: first.password,
    tls: first.tls,
    name: first.name,
    pid: child.pid!,
    niced: first.niced,
    async stats() {
      child.send('stats');
      const r = await next();
      if (r.kind !== 'stats') throw new Error('simulator process: no stats');
      return r.stats;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Every thread this process has, at `nice`; threads made later (libuv's pool) inherit it from the main thread.
 * Lowering one's own priority needs no privilege. False where there is no /proc/self/task (not Linux).
 */
function lowerOwnPriority(nice: number): boolean {
  try {
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), nice);
    return true;
  } catch {
    return false;
  }
}

/** The child's side: start the simulator, answer 'stats', stop and exit on 'stop'. */
function runChild(): void {
  process.once('message', (m: StartMessage) => {
    const niced = m.nice !== undefined && lowerOwnPriority(m.nice);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startSimulator } = require(m.simModule) as typeof import('../src/sim');
    const clock = m.clock ? new ScaledClock(m.clock.scale, m.clock.at + (Date.now() - m.clock.realAt) * m.clock.scale) : undefined;
    startSimulator(m.scenario, { clock }).then(
      (sim) => {
        process.on('message', (cmd) => {
          if (cmd === 'stats') process.send!({ kind: 'stats', stats: sim.stats() });
          if (cmd === 'stop') void sim.stop().finally(() => process.exit(0));
        });
        process.send!({ kind: 'started', masterUrl: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, name: sim.name, niced });
      },
      (e: unknown) => process.send!({ kind: 'error', message: String((e as Error)?.message ?? e) }, () => process.exit(1)),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module && process.argv.includes('--sim-child')) runChild();
