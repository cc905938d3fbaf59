// A decode thread that answers by script (test/xenapi/decode-pool.test.ts): a reply whose text is "refuse" is refused
// first and its batch announced after (the order in which the event loop may read them); any other reply is answered
// with one batch of records { "OpaqueRef:<text>": {} }, serialized as the real thread sends it. The pool must drop the refused reply's batch, not give it to
// the next reply.
const { parentPort, workerData } = require('node:worker_threads');
const { serialize } = require('node:v8');
const records = workerData.records;
const texts = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'start') texts.set(m.id, '');
  else if (m.type === 'chunk') texts.set(m.id, texts.get(m.id) + Buffer.from(m.bytes).toString());
  else if (m.type === 'end') {
    const text = texts.get(m.id);
    const bytes = new Uint8Array(serialize({ [`OpaqueRef:${text}`]: {} }));
    records.postMessage({ id: m.id, bytes }, [bytes.buffer]);
    if (text === 'refuse') {
      parentPort.postMessage({ type: 'error', id: m.id, error: { kind: 'json', message: 'refused by script' } });
      parentPort.postMessage({ type: 'batch', id: m.id });
      return;
    }
    parentPort.postMessage({ type: 'batch', id: m.id });
    parentPort.postMessage({ type: 'done', id: m.id, reply: { kind: 'json', value: { result: null } }, batches: 1 });
  }
});
