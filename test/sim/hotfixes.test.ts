/**
 * R3.10 on the simulator, through the wire only: update ISOs uploaded with PUT /import_raw_vdi, introduced from their
 * update.xml, prechecked (UPDATE_PRECHECK_FAILED_* as xapi names them), applied, surviving a reboot, gone after an
 * installer upgrade; restart_agent; a partial upload is no update.
 */
import https from 'node:https';
import http from 'node:http';
import { startSimulator, SimPool, ScenarioInput } from '../../src/sim';
import { hotfixIso, hotfixSchema, hotfixUuid } from '../../src/sim/hotfixes';
import { failureOf, fastClock, login, ok, until } from './helpers';

const HOTFIXES = [
  { name: 'XS76E001', for: '7.6.0', guidance: ['restartHost' as const] },
  { name: 'XS76E002', for: '7.6.0', guidance: ['restartXAPI' as const], prerequisites: ['XS76E001'] },
  { name: 'XS76E003', for: '7.6.0', guidance: ['restartHost' as const], livepatch: true },
];
const scenario = (extra: Partial<ScenarioInput> = {}): ScenarioInput => ({
  pool: { name: 'hf', password: 'pw' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.6.0', platformVersion: '2.7.0', build: 'lima', memoryGiB: 64 },
    { name: 's2', productVersion: '7.6.0', platformVersion: '2.7.0', build: 'lima', memoryGiB: 64 },
    { name: 'old', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true, isos: [] }],
  hotfixes: HOTFIXES.map((h) => ({ sizeMiB: 0.25, ...h })),
  timings: { xapiStartSeconds: 200, bootSeconds: 200, updateApplySeconds: 10, updatePrecheckSeconds: 1 },
  ...extra,
});

function put(sim: SimPool, path: string, body: Buffer, cut?: number): Promise<number> {
  const u = new URL(path, sim.masterUrl);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: 'PUT', headers: { 'content-length': body.length }, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => (cut !== undefined ? resolve(-1) : reject(e)));
    if (cut === undefined) req.end(body);
    else req.write(body.subarray(0, cut), () => setTimeout(() => req.destroy(), 50));
  });
}

async function upload(sim: SimPool, s: string, name: string, opts: { cut?: number } = {}): Promise<string> {
  const all = scenario().hotfixes!.map((h) => hotfixSchema.parse(h));
  const iso = hotfixIso('hf', all, all.find((h) => h.name === name)!);
  const sr = Object.entries(await ok(sim.masterUrl, 'SR.get_all_records', [s])).find(([, r]) => (r as { name_label: string }).name_label === 'nfs')![0];
  const vdi = await ok(sim.masterUrl, 'VDI.create', [s, { SR: sr, virtual_size: String(iso.length), type: 'user', name_label: `${name}.iso`, sharable: false, read_only: false, other_config: {} }]);
  const status = await put(sim, `/import_raw_vdi?session_id=${s}&vdi=${vdi}`, iso, opts.cut);
  if (opts.cut === undefined) expect(status).toBe(200);
  return vdi;
}

const hostRef = (sim: SimPool, name: string) => sim.hosts().find((h) => h.name === name)!.ref;

test('upload, introduce from update.xml, prerequisites, apply, guidance, reboot keeps them (R3.10)', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    const s = await login(sim.masterUrl, 'root', 'pw');
    const v1 = await upload(sim, s, 'XS76E001');
    const v2 = await upload(sim, s, 'XS76E002');
    const v3 = await upload(sim, s, 'XS76E003');
    expect(sim.stats().calls['http:/import_raw_vdi']).toBe(3);
    const u1 = await ok(sim.masterUrl, 'pool_update.introduce', [s, v1]);
    // the same VDI again returns the same update (reference I1); its metadata comes from update.xml
    expect(await ok(sim.masterUrl, 'pool_update.introduce', [s, v1])).toBe(u1);
    const rec = await ok(sim.masterUrl, 'pool_update.get_record', [s, u1]);
    expect(rec).toMatchObject({ name_label: 'XS76E001', uuid: hotfixUuid('hf', 'XS76E001'), after_apply_guidance: ['restartHost'], version: '1.0' });
    const u2 = await ok(sim.masterUrl, 'pool_update.introduce', [s, v2]);
    const u3 = await ok(sim.masterUrl, 'pool_update.introduce', [s, v3]);
    const s2 = hostRef(sim, 's2');
    expect(await failureOf(sim.masterUrl, 'pool_update.precheck', [s, u2, s2])).toEqual(['UPDATE_PRECHECK_FAILED_PREREQUISITE_MISSING', 'XS76E001']);
    expect(await failureOf(sim.masterUrl, 'pool_update.precheck', [s, u1, hostRef(sim, 'old')])).toEqual(['UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION', 'xenserver-release', '7.1.1', '7.6.0']);
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, u1, s2])).toBe('ok');
    await ok(sim.masterUrl, 'pool_update.apply', [s, u1, s2]);
    expect(await failureOf(sim.masterUrl, 'pool_update.apply', [s, u1, s2])).toEqual(['UPDATE_ALREADY_APPLIED', u1]);
    await ok(sim.masterUrl, 'pool_update.apply', [s, u2, s2]);
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, u3, s2])).toBe('ok_livepatch_complete');
    await ok(sim.masterUrl, 'pool_update.apply', [s, u3, s2]);
    expect((await ok(sim.masterUrl, 'host.get_updates', [s, s2])).slice(-3)).toEqual([u1, u2, u3]);
    // only the restartHost update without a livepatch waits for a reboot
    expect(await ok(sim.masterUrl, 'host.get_updates_requiring_reboot', [s, s2])).toEqual([u1]);
    // restart_agent: agent_start_time changes, boot_time does not
    const before = await ok(sim.masterUrl, 'host.get_other_config', [s, s2]);
    await ok(sim.masterUrl, 'host.restart_agent', [s, s2]);
    await until(async () => (await ok(sim.masterUrl, 'host.get_other_config', [s, s2])).agent_start_time !== before.agent_start_time, 'agent restart');
    expect((await ok(sim.masterUrl, 'host.get_other_config', [s, s2])).boot_time).toBe(before.boot_time);
    // a reboot keeps the applied updates and clears the pending reboot
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    await until(async () => (await ok(sim.masterUrl, 'host.get_other_config', [s, s2])).boot_time !== before.boot_time && sim.hosts().find((h) => h.name === 's2')!.power === 'on', 'reboot');
    await until(async () => (await ok(sim.masterUrl, 'host_metrics.get_live', [s, await ok(sim.masterUrl, 'host.get_metrics', [s, s2])])) === true, 'live');
    expect((await ok(sim.masterUrl, 'host.get_updates', [s, s2])).slice(-3)).toEqual([u1, u2, u3]);
    expect(await ok(sim.masterUrl, 'host.get_updates_requiring_reboot', [s, s2])).toEqual([]);
    expect((await ok(sim.masterUrl, 'pool_update.get_hosts', [s, u1])).includes(s2)).toBe(true);
  } finally {
    await sim.stop();
  }
});

test('a partial upload is no update; the VDI can be destroyed; a precheck fault names the update (R3.10)', async () => {
  const sim = await startSimulator(
    scenario({ faults: [{ kind: 'api-error', method: 'pool_update.precheck', host: 's2', update: 'XS76E001', code: 'UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', params: ['XS76E001', 'XS76E000'] }] }),
    { clock: fastClock(20000) },
  );
  try {
    const s = await login(sim.masterUrl, 'root', 'pw');
    const partial = await upload(sim, s, 'XS76E001', { cut: 40_000 });
    expect((await failureOf(sim.masterUrl, 'pool_update.introduce', [s, partial]))[0]).toBe('INVALID_UPDATE');
    await ok(sim.masterUrl, 'VDI.destroy', [s, partial]);
    expect((await failureOf(sim.masterUrl, 'VDI.get_record', [s, partial]))[0]).toBe('HANDLE_INVALID');
    const v1 = await upload(sim, s, 'XS76E001');
    const u1 = await ok(sim.masterUrl, 'pool_update.introduce', [s, v1]);
    expect((await failureOf(sim.masterUrl, 'VDI.destroy', [s, v1]))[0]).toBe('VDI_IN_USE');
    expect(await failureOf(sim.masterUrl, 'pool_update.precheck', [s, u1, hostRef(sim, 's2')])).toEqual(['UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', 'XS76E001', 'XS76E000']);
    // once: the next precheck (a Retry) passes; the fault never touched the master
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, u1, hostRef(sim, 's2')])).toBe('ok');
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, u1, hostRef(sim, 'm1')])).toBe('ok');
  } finally {
    await sim.stop();
  }
});

test('pool_clean removes the update ISO from the SR and keeps the update applied; a second one or an unknown ref fails as xapi does', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    const s = await login(sim.masterUrl, 'root', 'pw');
    const v1 = await upload(sim, s, 'XS76E001');
    const u1 = await ok(sim.masterUrl, 'pool_update.introduce', [s, v1]);
    const s2 = hostRef(sim, 's2');
    await ok(sim.masterUrl, 'pool_update.apply', [s, u1, s2]);
    expect(await ok(sim.masterUrl, 'pool_update.pool_clean', [s, u1])).toBe('');
    // the VDI is gone from the SR; the record stays, with a null vdi, and still applied on s2
    expect(await failureOf(sim.masterUrl, 'VDI.get_record', [s, v1])).toEqual(['HANDLE_INVALID', 'VDI', v1]);
    expect(Object.keys(await ok(sim.masterUrl, 'VDI.get_all_records', [s]))).not.toContain(v1);
    expect(await ok(sim.masterUrl, 'pool_update.get_record', [s, u1])).toMatchObject({ uuid: hotfixUuid('hf', 'XS76E001'), vdi: 'OpaqueRef:NULL', hosts: [s2] });
    expect(await ok(sim.masterUrl, 'host.get_updates', [s, s2])).toContain(u1);
    // again: xapi's VDI.destroy of the null ref fails; an unknown update is HANDLE_INVALID
    expect(await failureOf(sim.masterUrl, 'pool_update.pool_clean', [s, u1])).toEqual(['HANDLE_INVALID', 'VDI', 'OpaqueRef:NULL']);
    expect(await failureOf(sim.masterUrl, 'pool_update.pool_clean', [s, 'OpaqueRef:nope'])).toEqual(['HANDLE_INVALID', 'pool_update', 'OpaqueRef:nope']);
    // with its files gone the update cannot be applied elsewhere any more (the reason a run cleans only at its end)
    expect((await failureOf(sim.masterUrl, 'pool_update.apply', [s, u1, hostRef(sim, 'm1')]))[0]).toBe('INVALID_UPDATE');
    // a new upload of the same update introduced gives the record its VDI back (xapi's introduce on a null vdi)
    const again = await upload(sim, s, 'XS76E001');
    expect(await ok(sim.masterUrl, 'pool_update.introduce', [s, again])).toBe(u1);
    expect(await ok(sim.masterUrl, 'pool_update.get_vdi', [s, u1])).toBe(again);
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, u1, hostRef(sim, 'm1')])).toBe('ok');
    // while it has files, another VDI of the same update is refused
    const third = await upload(sim, s, 'XS76E001');
    expect((await failureOf(sim.masterUrl, 'pool_update.introduce', [s, third]))[0]).toBe('UPDATE_ALREADY_EXISTS');
  } finally {
    await sim.stop();
  }
});
