import { double, encodeJsonRpcCall, encodeXmlRpcCall } from '../../src/xenapi/encode';
import { isReadOnly, methodOf } from './xenapi-calls';

/**
 * The recording proxy of the failover and fencing tests must see every state-changing call a replica sends, in
 * both wire formats the client speaks (JSON-RPC first since issue 13, XML-RPC as the fallback), including the
 * `Async.*` forms slow calls now take (long-call.ts). Bodies are made with the client's own encoders.
 */
describe('the HA recording proxy reads XenAPI methods', () => {
  const changing = ['host.disable', 'Async.host.evacuate', 'VM.pool_migrate', 'Async.VM.pool_migrate', 'host.shutdown', 'Async.host.call_plugin', 'task.destroy', 'task.cancel', 'VM.clean_shutdown', 'Async.pool.disable_ha'];
  const reading = ['session.login_with_password', 'event.from', 'host.get_all_records', 'VM.get_all_records_where', 'task.get_status', 'pool.get_all', 'system.listMethods'];

  it.each(changing)('%s, sent over JSON-RPC or XML-RPC, is recorded by name and counted as changing the pool', (m) => {
    const json = methodOf('POST', '/jsonrpc', encodeJsonRpcCall(m, ['OpaqueRef:s', 'OpaqueRef:h', { live: 'true' }], 7));
    const xml = methodOf('POST', '/', encodeXmlRpcCall(m, ['OpaqueRef:s', 'OpaqueRef:h', { live: 'true' }]));
    expect(json).toEqual({ method: m, wire: 'jsonrpc' });
    expect(xml).toEqual({ method: m, wire: 'xmlrpc' });
    expect(isReadOnly(json.method)).toBe(false);
    expect(isReadOnly(xml.method)).toBe(false);
  });

  it.each(reading)('%s is recorded by name in both formats and counted as a read', (m) => {
    const params = m === 'event.from' ? ['OpaqueRef:s', ['task/OpaqueRef:t'], '', double(30)] : ['OpaqueRef:s'];
    for (const r of [methodOf('POST', '/jsonrpc', encodeJsonRpcCall(m, params, 1)), methodOf('POST', '/', encodeXmlRpcCall(m, params))]) {
      expect(r.method).toBe(m);
      expect(isReadOnly(r.method)).toBe(true);
    }
  });

  it('a body naming no method is recorded by verb and path: a POST counts as changing the pool, a GET (db dump) as a read', () => {
    for (const body of ['', 'not json', '{"params":[]}', '{"method":""}', '{broken']) {
      const r = methodOf('POST', '/jsonrpc', body);
      expect(r).toEqual({ method: 'http:POST /jsonrpc', wire: 'http' });
      expect(isReadOnly(r.method)).toBe(false);
    }
    expect(isReadOnly(methodOf('GET', '/pool/xmldbdump', '').method)).toBe(true);
  });

  it('a method name that is only a prefix of a read is not a read (Async.<class>.get_* is sent as a task)', () => {
    expect(isReadOnly('Async.VM.get_record')).toBe(false);
    expect(isReadOnly('sessionless.destroy')).toBe(false);
  });
});
