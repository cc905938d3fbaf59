/** A large synthetic pool for tests and benchmarks: `generateScenario({hosts: 64, vmsPerHost: 50, seed})`. */
import { prng } from '../domain/prng';
import { Scenario, parseScenario, ScenarioInput } from './scenario';

export function generateScenario(opts: { hosts: number; vmsPerHost: number; seed?: number; name?: string }): Scenario {
  const rnd = prng(opts.seed ?? 1);
  const sizes = [1, 2, 2, 4, 4, 4, 8];
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const hosts: ScenarioInput['hosts'] = [];
  const vms: NonNullable<ScenarioInput['vms']> = [];
  // Host memory leaves room for one host's VMs to spread over the others (R2.2).
  const memoryGiB = Math.max(64, Math.ceil((opts.vmsPerHost * 8 * opts.hosts) / Math.max(1, opts.hosts - 1)) + 16);
  for (let h = 1; h <= opts.hosts; h++) {
    const name = `gen-h${pad(h, 3)}`;
    hosts.push({ name, master: h === 1, productVersion: '7.1.1', platformVersion: '2.1.1', build: '137272c', memoryGiB });
    for (let v = 1; v <= opts.vmsPerHost; v++) {
      const r = rnd();
      vms.push({
        name: `${name}-vm${pad(v, 3)}`,
        host: name,
        power: r < 0.85 ? 'Running' : r < 0.95 ? 'Halted' : 'Suspended',
        memoryGiB: sizes[Math.floor(rnd() * sizes.length)],
        disks: [{ sr: 'shared-nfs', sizeGiB: 20 + Math.floor(rnd() * 100) }],
        tools: rnd() < 0.2 ? '7.0.0' : undefined,
      });
    }
  }
  return parseScenario(
    {
      pool: { name: opts.name ?? `gen-${opts.hosts}x${opts.vmsPerHost}`, password: 'generated' },
      hosts,
      srs: [{ name: 'shared-nfs', type: 'nfs', shared: true, sizeGiB: 100000 }],
      vms,
      repositories: [{ url: 'http://repo.example.com/xenserver/7.6/', version: '7.6.0', platform: '2.7.0', build: 'release/lima/master/36' }],
    },
    'generateScenario',
  );
}
