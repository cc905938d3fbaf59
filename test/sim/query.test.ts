/** get_all_records_where against the simulator, in xapi's filter syntax (issue 13). */
import { startSimulator, type SimPool } from '../../src/sim';
import { parseQuery } from '../../src/sim/query';
import { failureOf, fastClock, login, ok } from './helpers';

let sim: SimPool;
let s: string;

beforeAll(async () => {
  sim = await startSimulator(
    {
      pool: { name: 'q', password: 'pw' },
      hosts: [
        { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'b', memoryGiB: 64 },
        { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'b', memoryGiB: 64 },
      ],
      srs: [{ name: 'nfs', type: 'nfs', shared: true }],
      vms: [
        { name: 'a', host: 'm1', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
        { name: 'b', host: 's2', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
        { name: 'c', host: 's2', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
        { name: 'off', memoryGiB: 2, disks: [{ sr: 'nfs' }], power: 'Halted' },
      ],
    },
    { clock: fastClock() },
  );
  s = await login(sim.masterUrl, 'root', 'pw');
});
afterAll(() => sim.stop());

const hostRef = (name: string) => sim.hosts().find((h) => h.name === name)!.ref;
const names = (recs: Record<string, { name_label: string }>) => Object.values(recs).map((r) => r.name_label).sort();
const where = async (expr: string) => names(await ok(sim.masterUrl, 'VM.get_all_records_where', [s, expr]));

test('field = ref: the VMs resident on one host (dom0 included, as xapi returns it), with full records', async () => {
  const recs = await ok(sim.masterUrl, 'VM.get_all_records_where', [s, `field "resident_on" = "${hostRef('s2')}"`]);
  const guests = Object.values(recs as Record<string, { name_label: string; is_control_domain: boolean; memory_static_max: string }>).filter((r) => !r.is_control_domain);
  expect(guests.map((r) => r.name_label).sort()).toEqual(['b', 'c']);
  expect(guests.find((r) => r.name_label === 'b')!.memory_static_max).toBe(String(4 * 1024 ** 3));
  // the records are the same as get_all_records gives
  const all = await ok(sim.masterUrl, 'VM.get_all_records', [s]);
  for (const [ref, rec] of Object.entries(recs)) expect(rec).toEqual(all[ref]);
});

test('and, or, not, parentheses, a literal on the left, booleans and ints compared as text', async () => {
  const guest = 'field "is_control_domain" = "false" and field "is_a_template" = "false"';
  expect(await where(`${guest} and field "power_state" = "Halted"`)).toEqual(['off']);
  expect(await where(`${guest} and (field "name_label" = "a" or "c" = field "name_label")`)).toEqual(['a', 'c']);
  expect(await where(`${guest} and not field "resident_on" = "${hostRef('s2')}" and not field "power_state" = "Halted"`)).toEqual(['a']);
  expect(await where(`${guest} and field "memory_static_max" = "${4 * 1024 ** 3}"`)).toEqual(['b']);
  expect(await where('false')).toEqual([]);
  expect((await where('true')).length).toBeGreaterThanOrEqual(4);
  expect(await where(`field "name_label" = "no such VM"`)).toEqual([]);
});

test.each(['field resident_on = "x"', 'field "a" = ', '(true', 'true false', 'field "a" == "b"', '"unterminated'])('a malformed filter %p fails the call', async (expr) => {
  const f = await failureOf(sim.masterUrl, 'VM.get_all_records_where', [s, expr]);
  expect(f[0]).toBe('INTERNAL_ERROR');
  expect(f[1]).toContain('Db_filter');
});

test('precedence: not binds tightest, then and, then or', () => {
  expect(parseQuery('true or false and false')).toEqual({ op: 'or', l: { op: 'true' }, r: { op: 'and', l: { op: 'false' }, r: { op: 'false' } } });
  expect(parseQuery('not true and false')).toEqual({ op: 'and', l: { op: 'not', e: { op: 'true' } }, r: { op: 'false' } });
});
