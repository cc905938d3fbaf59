/** `xsupgrade sim --scenario manifests/demo/pool-a.yaml`, built and spawned, driven by raw XML-RPC. */
import { ChildProcess, spawn } from 'node:child_process';
import { failureOf, login, ok } from './helpers';

jest.setTimeout(120000);

let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

test('the sim CLI serves pool-a: login on the master, read all records, redirect from a slave', async () => {
  // dist/ is built by the jest global setup (test/helpers/global-setup.js)
  child = spawn(process.execPath, ['dist/src/cli.js', 'sim', '--scenario', 'manifests/demo/pool-a.yaml', '--time-scale', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 600 && !/admin: /.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  expect(out).toMatch(/admin: http:\/\/127\.0\.0\.1:\d+\/pools\/pool-a/);
  // HTTPS by default, each host's certificate fingerprint printed for pinning
  const master = /xs-a1\s+master\s+(https:\/\/[\d.]+:\d+)\s.*sha256 ([0-9A-F:]{95})/.exec(out)![1];
  const slave = /xs-a3\s+slave\s+(https:\/\/[\d.]+:\d+)/.exec(out)![1];
  const masterIp = new URL(master).hostname;
  expect(await failureOf(slave, 'session.login_with_password', ['root', 'xenroot-demo'])).toEqual(['HOST_IS_SLAVE', masterIp]);
  const s = await login(`https://${masterIp}:${new URL(slave).port}`);
  const vms = await ok(master, 'VM.get_all_records', [s]);
  expect(Object.values<any>(vms).map((v) => v.name_label)).toContain('vm-licence-srv');
  for (const cls of ['pool', 'host', 'host_metrics', 'VM_metrics', 'VM_guest_metrics', 'VBD', 'VDI', 'SR', 'PBD', 'task'])
    expect(typeof (await ok(master, `${cls}.get_all_records`, [s]))).toBe('object');
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
