// A decode thread that takes every message and never answers: a reply handed to it must still end at the call's
// timeout (test/xenapi/decode-pool.test.ts).
require('node:worker_threads').parentPort.on('message', () => undefined);
