/** The wire: xapi's XML-RPC dialect, sessions, redirects, every class readable, over real HTTP. */
import { startSimulator, SimPool } from '../../src/sim';
import { failureOf, fastClock, login, methodCallXml, ok, rawPost, xcall } from './helpers';

const CLASSES = ['pool', 'host', 'host_metrics', 'VM', 'VM_metrics', 'VM_guest_metrics', 'VBD', 'VDI', 'SR', 'PBD', 'task', 'pool_update'];

describe('sim wire format and sessions', () => {
  let sim: SimPool;
  let session: string;
  beforeAll(async () => {
    sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
    session = await login(sim.masterUrl);
  });
  afterAll(() => sim.stop());

  test('each host has its own loopback address on one shared port', () => {
    const hosts = sim.hosts();
    expect(hosts).toHaveLength(3);
    expect(new Set(hosts.map((h) => h.address)).size).toBe(3);
    for (const h of hosts) {
      expect(h.address).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(h.url).toBe(`https://${h.address}:${sim.port}`);
    }
    expect(hosts.filter((h) => h.role === 'master').map((h) => h.name)).toEqual(['xs-a1']);
    expect(sim.masterUrl).toBe(hosts[0].url);
  });

  test('a slave answers login with HOST_IS_SLAVE [master ip] before checking credentials', async () => {
    const slave = sim.hosts().find((h) => h.name === 'xs-a2')!;
    const master = sim.hosts().find((h) => h.role === 'master')!;
    expect(await failureOf(slave.url, 'session.login_with_password', ['root', 'wrong'])).toEqual(['HOST_IS_SLAVE', master.address]);
    // following the redirect with the same scheme and port works
    const s = await ok(`https://${master.address}:${sim.port}`, 'session.login_with_password', ['root', 'xenroot-demo']);
    expect(s).toMatch(/^OpaqueRef:[0-9a-f-]{36}$/);
  });

  test('login accepts 2 or 4 arguments, rejects a bad password and a wrong count', async () => {
    expect(await ok(sim.masterUrl, 'session.login_with_password', ['root', 'xenroot-demo'])).toMatch(/^OpaqueRef:/);
    expect(await failureOf(sim.masterUrl, 'session.login_with_password', ['root', 'nope', '1.0', 'x'])).toEqual([
      'SESSION_AUTHENTICATION_FAILED',
      'root',
      'Authentication failure',
    ]);
    expect(await failureOf(sim.masterUrl, 'session.login_with_password', ['root'])).toEqual([
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'session.login_with_password',
      '4',
      '1',
    ]);
  });

  test('stale sessions get SESSION_INVALID; logout ends a session', async () => {
    const s = await login(sim.masterUrl);
    await ok(sim.masterUrl, 'session.logout', [s]);
    expect(await failureOf(sim.masterUrl, 'pool.get_all', [s])).toEqual(['SESSION_INVALID', s]);
    expect(await failureOf(sim.masterUrl, 'pool.get_all', ['OpaqueRef:bogus'])).toEqual(['SESSION_INVALID', 'OpaqueRef:bogus']);
  });

  test('unknown methods and malformed bodies', async () => {
    expect(await failureOf(sim.masterUrl, 'host.frobnicate', [session])).toEqual(['MESSAGE_METHOD_UNKNOWN', 'host.frobnicate']);
    const bad = await rawPost(sim.masterUrl, '<methodCall><methodName>pool.get_all</methodName><params><param>');
    expect(bad.status).toBe(500);
    const notXml = await rawPost(sim.masterUrl, 'hello');
    expect(notXml.status).toBe(500);
  });

  test('POST /xmlrpc lands on the same handler; system.listMethods needs no session', async () => {
    const r = await xcall(`${sim.masterUrl}/xmlrpc`, 'pool.get_all', [session]);
    expect(r.Status).toBe('Success');
    const methods: string[] = await ok(sim.masterUrl, 'system.listMethods', []);
    for (const c of CLASSES) expect(methods).toContain(`${c}.get_all_records`);
    expect(methods).toContain('event.from');
    expect(methods).toContain('VM.pool_migrate');
  });

  test('XenAPI.py startup calls: pool.get_all, pool.get_master, API version', async () => {
    const pools: string[] = await ok(sim.masterUrl, 'pool.get_all', [session]);
    expect(pools).toHaveLength(1);
    const master: string = await ok(sim.masterUrl, 'pool.get_master', [session, pools[0]]);
    expect(await ok(sim.masterUrl, 'host.get_name_label', [session, master])).toBe('xs-a1');
    expect(await ok(sim.masterUrl, 'host.get_API_version_major', [session, master])).toBe('2');
    expect(await ok(sim.masterUrl, 'host.get_API_version_minor', [session, master])).toBe('6');
  });

  test('get_all_records works for every class, keyed by OpaqueRef', async () => {
    for (const cls of CLASSES) {
      const recs = await ok(sim.masterUrl, `${cls}.get_all_records`, [session]);
      for (const [ref, rec] of Object.entries<any>(recs)) {
        expect(ref).toMatch(/^OpaqueRef:[0-9a-f-]{36}$/);
        expect(rec.uuid).toMatch(/^[0-9a-f-]{36}$/);
      }
      if (cls !== 'task' && cls !== 'pool_update') expect(Object.keys(recs).length).toBeGreaterThan(0);
    }
    const vms = Object.values<any>(await ok(sim.masterUrl, 'VM.get_all_records', [session]));
    expect(vms.filter((v) => v.is_control_domain)).toHaveLength(3);
    expect(vms.filter((v) => !v.is_control_domain)).toHaveLength(12);
    const hosts = Object.entries<any>(await ok(sim.masterUrl, 'host.get_all_records', [session]));
    for (const [ref, h] of hosts) {
      // dom0 is listed in resident_VMs, as xapi does
      expect(h.resident_VMs).toContain(h.control_domain);
      const dom0 = await ok(sim.masterUrl, 'VM.get_record', [session, h.control_domain]);
      expect(dom0.resident_on).toBe(ref);
      expect(h.software_version.product_version).toBe('7.1.1');
      expect(h.software_version.platform_version).toBe('2.1.1');
      expect(h.other_config.boot_time).toMatch(/^\d+\.\d+$/);
    }
    const pool = Object.values<any>(await ok(sim.masterUrl, 'pool.get_all_records', [session]))[0];
    expect(pool.ha_enabled).toBe(true);
    expect(pool.other_config.rolling_upgrade_in_progress).toBeUndefined();
  });

  test('on the wire: int64 untyped decimal strings, <boolean>, dateTime without dashes, no <string> tag', async () => {
    const r = await rawPost(sim.masterUrl, methodCallXml('host_metrics.get_all_records', [session]));
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^<\?xml version="1.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value>/);
    expect(r.text).toMatch(/<name>memory_total<\/name><value>137438953472<\/value>/);
    expect(r.text).toMatch(/<name>live<\/name><value><boolean>1<\/boolean><\/value>/);
    expect(r.text).toMatch(/<dateTime\.iso8601>\d{8}T\d{2}:\d{2}:\d{2}Z<\/dateTime\.iso8601>/);
    expect(r.text).not.toContain('<string>');
    expect(r.text).not.toContain('<int>');
    const vm = await rawPost(sim.masterUrl, methodCallXml('VM.get_all_records', [session]));
    expect(vm.text).toMatch(/<name>memory_static_max<\/name><value>\d+<\/value>/);
    expect(vm.text).toContain('<value>OpaqueRef:NULL</value>');
    const fail = await rawPost(sim.masterUrl, methodCallXml('pool.get_all', ['OpaqueRef:x']));
    expect(fail.text).toContain(
      '<member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>SESSION_INVALID</value><value>OpaqueRef:x</value></data></array></value></member>',
    );
  });

  test('invalid handles give HANDLE_INVALID [class, ref]', async () => {
    expect(await failureOf(sim.masterUrl, 'VM.get_record', [session, 'OpaqueRef:nope'])).toEqual(['HANDLE_INVALID', 'VM', 'OpaqueRef:nope']);
  });
});
