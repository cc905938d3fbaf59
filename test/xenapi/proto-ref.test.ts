/**
 * A get_all_records reply is the host's text: a ref (a key of the reply's struct) may be any string, "__proto__"
 * too. Its record must stay an own property of the records, as JSON.parse makes it, on every path a reply takes
 * (JSON-RPC or XML-RPC, on a decode thread or on the event loop). Assigned, "__proto__" set the records' prototype
 * instead: the record was lost, and a lookup of a missing ref found the record's fields.
 */
import { XenApiClient } from '../../src/xenapi';
import { DecodePool } from '../../src/xenapi/decode-pool';
import { recordFieldsOf } from '../../src/xenapi/records';
import { decodeXmlRpc } from '../../src/xenapi/xml-decode';
import { decodeThreads } from '../helpers/decode-threads';
import { reply, startFakeHost } from '../helpers/fake-host';

const REFS = ['OpaqueRef:a', '__proto__', 'OpaqueRef:b'];

const jsonReply = (result: string) => `{"jsonrpc":"2.0","result":${result},"id":1}`;
const jsonRecords = jsonReply(`{${REFS.map((ref, i) => `"${ref}":{"live":${i % 2 === 0},"memory_total":"${i}"}`).join(',')}}`);

const xmlReply = (value: string) =>
  `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>${value}</value></member></struct></value></param></params></methodResponse>`;
const xmlRecords = xmlReply(
  `<struct>${REFS.map((ref, i) => `<member><name>${ref}</name><value><struct><member><name>live</name><value><boolean>${i % 2 === 0 ? 1 : 0}</boolean></value></member><member><name>memory_total</name><value>${i}</value></member></struct></value></member>`).join('')}</struct>`,
);

describe.each([
  ['JSON-RPC', 'jsonrpc' as const],
  ['XML-RPC', 'xmlrpc' as const],
])('a record whose ref is "__proto__", over %s', (_name, transport) => {
  test.each([
    ['on a decode thread', () => decodeThreads(1)],
    ['on the event loop', () => new DecodePool({ threads: 0 })],
  ])('%s: kept as an own property; the records keep their prototype', async (_where, makePool) => {
    let calls = 0;
    const host = await startFakeHost((_req, res) => {
      const login = calls++ === 0;
      if (transport === 'jsonrpc') reply(res, 'application/json', login ? jsonReply('"OpaqueRef:session"') : jsonRecords);
      else reply(res, 'text/xml', login ? xmlReply('OpaqueRef:session') : xmlRecords);
    });
    const pool = makePool();
    const c = new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport, decodePool: pool });
    try {
      const records = await c.getAllRecords('host_metrics');
      expect(Object.getPrototypeOf(records)).toBe(Object.prototype);
      expect(Object.keys(records)).toEqual(REFS);
      expect(Object.getOwnPropertyDescriptor(records, '__proto__')?.value).toEqual({ live: false, memory_total: 1 });
      // a ref the reply does not hold finds nothing
      expect((records as Record<string, unknown>).live).toBeUndefined();
    } finally {
      c.close();
      await pool.close();
      await host.close();
    }
  });
});

test('a string map key "__proto__" in an XML-RPC record is kept, as JSON.parse keeps it in a JSON-RPC one', () => {
  // written plainly, the XML decoder's fast path reads the map itself (plainValue)
  const xml = xmlReply(
    `<struct><member><name>OpaqueRef:p</name><value><struct><member><name>name_label</name><value>p</value></member><member><name>master</name><value>OpaqueRef:h</value></member><member><name>other_config</name><value><struct><member><name>__proto__</name><value>x</value></member><member><name>a</name><value>b</value></member></struct></value></member></struct></value></member></struct>`,
  );
  const doc = decodeXmlRpc(xml, 32, { recordFields: recordFieldsOf('pool') });
  const pool = (doc as { value: { Value: Record<string, { other_config: Record<string, string> }> } }).value.Value['OpaqueRef:p']!;
  expect(Object.keys(pool.other_config)).toEqual(['__proto__', 'a']);
  expect(Object.getPrototypeOf(pool.other_config)).toBe(Object.prototype);
});
