import { XenApiClient, RecordParseError, parseAllRecords, parseRecord, parseXapiDatetime } from '../../src/xenapi';
import { startFakePool, seedPool, type FakePool } from './helpers/fake-pool';

describe('record schemas', () => {
  const host = {
    uuid: 'u1',
    name_label: 'xs1',
    address: '10.0.0.1',
    enabled: true,
    software_version: { product_version: '7.1.1', platform_version: '2.1.1' },
    other_config: { boot_time: '1700000000.0' },
    resident_VMs: ['OpaqueRef:dom0'],
    metrics: 'OpaqueRef:m',
    PBDs: [],
    API_version_major: '2',
    memory_overhead: '1073741824',
    some_future_field: { x: 'y' },
  };

  test('int64 strings become numbers, wire names stay, fields the bot does not read are dropped', () => {
    const r = parseRecord('host', 'OpaqueRef:h', host);
    expect(r.API_version_major).toBe(2);
    expect(r.memory_overhead).toBe(1073741824);
    expect(r.software_version.product_version).toBe('7.1.1');
    expect(r).not.toHaveProperty('some_future_field');
    expect(r).not.toHaveProperty('PBDs');
    // an unread field is not validated either: a newer or odd xapi value there does not refuse the record
    expect(parseRecord('host', 'OpaqueRef:h', { ...host, PBDs: 'not-a-list' }).name_label).toBe('xs1');
    expect(parseRecord('host', 'OpaqueRef:h', { ...host, API_version_major: 7 }).API_version_major).toBe(7);
  });

  test('a map of which the bot reads some keys keeps those keys, still checked as strings', () => {
    const vm = {
      uuid: 'v',
      name_label: 'web',
      power_state: 'Running',
      resident_on: 'OpaqueRef:h',
      is_a_template: false,
      is_control_domain: false,
      memory_dynamic_min: '1024',
      VBDs: [],
      other_config: { pci: '0/0000:00:02.0', folder: '/x' },
    };
    expect(parseRecord('VM', 'OpaqueRef:v', vm).other_config).toEqual({ pci: '0/0000:00:02.0' });
    expect(() => parseRecord('VM', 'OpaqueRef:v', { ...vm, other_config: { pci: 1 } })).toThrow(/VM record OpaqueRef:v: field other_config.pci: Expected string/);
    expect(() => parseRecord('VM', 'OpaqueRef:v', { ...vm, memory_dynamic_min: 1.5 })).toThrow(/field memory_dynamic_min: an int64/);
  });

  test('datetimes: Date objects and xapi text both give the right UTC instant', () => {
    expect(parseXapiDatetime('20170407T08:28:32Z')!.toISOString()).toBe('2017-04-07T08:28:32.000Z');
    expect(parseXapiDatetime('20170407T08:28:32')!.toISOString()).toBe('2017-04-07T08:28:32.000Z');
    const text = parseRecord('host_metrics', 'OpaqueRef:m', { live: true, memory_total: '1', last_updated: '19700101T00:00:00Z' });
    expect(text.last_updated!.getTime()).toBe(0);
    const date = parseRecord('host_metrics', 'OpaqueRef:m', { live: true, memory_total: '1', last_updated: new Date(5000) });
    expect(date.last_updated!.getTime()).toBe(5000);
  });

  test('a bad record names the class, the ref and the field', () => {
    expect(() => parseRecord('host', 'OpaqueRef:h', { ...host, API_version_major: 'two' })).toThrow(RecordParseError);
    expect(() => parseRecord('host', 'OpaqueRef:h', { ...host, API_version_major: 'two' })).toThrow(
      /host record OpaqueRef:h: field API_version_major: an int64 as a decimal string/,
    );
    const { enabled: _omit, ...missing } = host;
    expect(() => parseRecord('host', 'OpaqueRef:h2', missing)).toThrow(/host record OpaqueRef:h2: field enabled: .*missing/);
    expect(() => parseRecord('host_metrics', 'OpaqueRef:m', { live: true, memory_total: '1', last_updated: 'yesterday' })).toThrow(/field last_updated: a XenAPI datetime/);
    expect(() => parseAllRecords('VM', ['not', 'a', 'struct'])).toThrow(/VM record \(all\)/);
  });
});

describe('getAllRecords', () => {
  let pool: FakePool;
  let client: XenApiClient;
  beforeEach(async () => {
    pool = await startFakePool({ hosts: 3 });
    seedPool(pool);
    client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' } });
    await client.login();
  });
  afterEach(async () => {
    client.close();
    await pool.stop();
  });

  test('one round trip per class, typed records keyed by ref, host addresses remembered as pool members', async () => {
    client.resetCallCount();
    const hosts = await client.getAllRecords('host');
    const metrics = await client.getAllRecords('host_metrics');
    expect(client.callCount).toBe(2);
    expect(client.callCounts).toEqual({ 'host.get_all_records': 1, 'host_metrics.get_all_records': 1 });
    expect(Object.keys(hosts).sort()).toEqual(pool.hosts.map((h) => h.ref).sort());
    const h1 = hosts[pool.hosts[0]!.ref]!;
    expect(h1.memory_overhead).toBe(1073741824);
    expect(metrics[h1.metrics]!.memory_total).toBe(274877906944);
    expect(metrics[h1.metrics]!.last_updated).toBeInstanceOf(Date);
    expect(client.knownMembers.sort()).toEqual(pool.hosts.map((h) => h.address).sort());
  });

  test('a malformed record from the server is a RecordParseError naming the class, ref and field', async () => {
    const ref = pool.hosts[1]!.ref;
    pool.mod('host', ref, { enabled: 'yes' });
    await expect(client.getAllRecords('host')).rejects.toThrow(`host record ${ref}: field enabled`);
  });
});
