import Keyv from 'keyv';
import { MemoryBackend } from '../../src/store/backend';
import { KeyvBackendAdapter } from '../../src/store/keyv-adapter';

test('keyv 5.6 accepts the adapter (dialect sqlite) and iterates its namespace', async () => {
  const keyv = new Keyv({ store: new KeyvBackendAdapter(new MemoryBackend()), namespace: 'ns' });
  const errors: unknown[] = [];
  keyv.on('error', (e: unknown) => errors.push(e));
  await keyv.set('a', { n: 1 });
  await keyv.set('b', [2]);
  expect(await keyv.get('a')).toEqual({ n: 1 });
  expect(await keyv.has('b')).toBe(true);
  expect(typeof keyv.iterator).toBe('function');
  const seen: Array<[string, unknown]> = [];
  for await (const [k, v] of keyv.iterator!(undefined)) seen.push([k as string, v]);
  expect(seen).toEqual([['a', { n: 1 }], ['b', [2]]]);
  expect(await keyv.delete('a')).toBe(true);
  expect(await keyv.get('a')).toBeUndefined();
  expect(errors).toEqual([]);
});
