/** get_all, get_all_records, get_record, get_by_uuid, get_by_name_label, get_<field>, other_config setters. */
import { Db } from '../db';
import { fail } from '../failure';
import {
  CLASSES,
  guestMetricsRecord,
  hostMetricsRecord,
  hostRecord,
  networkRecord,
  pifRecord,
  vifRecord,
  pbdRecord,
  poolRecord,
  poolUpdateRecord,
  srRecord,
  taskRecord,
  vbdRecord,
  vdiRecord,
  vmMetricsRecord,
  vmRecord,
} from '../records';
import { matches, parseQuery } from '../query';
import { WireValue } from '../wire';
import { def, str, strMap } from './registry';

const N = 'OpaqueRef:NULL';
/** Field lists per class, taken from the record constructors. */
export const FIELDS: Record<string, string[]> = {
  pool: Object.keys(poolRecord('', N)),
  host: Object.keys(hostRecord({ name: '', address: '', version: { product: '7.1.0', platform: '2.1.1', build: '' }, memory: 0, cpus: 1, cpuVendor: '', cpuFeatures: '', sanBoot: false, multipathing: false, bootTime: 0 }, N)),
  host_metrics: Object.keys(hostMetricsRecord(0, 0)),
  VM: Object.keys(vmRecord({ name: '', memory: 0, vcpus: 1, power: 'Halted', residentOn: N, affinity: N, isControlDomain: false, isTemplate: false, haRestartPriority: '', metrics: N, guestMetrics: N })),
  VM_metrics: Object.keys(vmMetricsRecord(0, 1, false, 0)),
  VM_guest_metrics: Object.keys(guestMetricsRecord('7.1.0', 'x', true, [], 0)),
  VBD: Object.keys(vbdRecord({ vm: N, vdi: N, type: 'Disk', userdevice: '0', attached: false })),
  VDI: Object.keys(vdiRecord({ name: '', sr: N, size: 0, type: 'user', readOnly: false, isToolsIso: false })),
  SR: Object.keys(srRecord({ name: '', type: 'nfs', shared: true, size: 0 })),
  PBD: Object.keys(pbdRecord(N, N, {})),
  task: Object.keys(taskRecord('', N, 0)),
  pool_update: Object.keys(poolUpdateRecord({ name: '', version: '', vdi: N })),
  network: Object.keys(networkRecord('', '')),
  PIF: Object.keys(pifRecord({ host: N, network: N, device: '', vlan: -1, management: false })),
  VIF: Object.keys(vifRecord({ vm: N, network: N, device: '', attached: false })),
};

for (const cls of CLASSES) {
  def(`${cls}.get_all`, { params: 0, async: false, handler: ({ pool }) => pool.db.refs(cls) });
  def(`${cls}.get_all_records`, { params: 0, async: false, handler: ({ pool }) => pool.db.encodedAll(cls) });
  def(`${cls}.get_all_records_where`, {
    params: 1,
    async: false,
    handler: ({ pool }, [expr]) => {
      const e = parseQuery(str(expr));
      const out: Record<string, WireValue> = {};
      for (const [ref, rec] of pool.db.entries(cls)) if (matches(e, rec)) out[ref] = pool.db.encoded(cls, ref);
      return out;
    },
  });
  def(`${cls}.get_record`, { params: 1, async: false, handler: ({ pool }, [ref]) => pool.db.encoded(cls, str(ref)) });
  def(`${cls}.get_by_uuid`, {
    params: 1,
    async: false,
    handler: ({ pool }, [uuid]) => {
      const hit = pool.db.entries(cls).find(([, r]) => r.uuid === uuid);
      return hit ? hit[0] : fail('UUID_INVALID', cls, str(uuid));
    },
  });
  if (FIELDS[cls].includes('name_label'))
    def(`${cls}.get_by_name_label`, {
      params: 1,
      async: false,
      handler: ({ pool }, [label]) => pool.db.entries(cls).filter(([, r]) => r.name_label === label).map(([ref]) => ref),
    });
  for (const field of FIELDS[cls])
    def(`${cls}.get_${field}`, { params: 1, async: false, handler: ({ pool }, [ref]) => Db.wireField(cls, field, pool.db.get(cls, str(ref))[field]) });
  if (FIELDS[cls].includes('other_config')) {
    def(`${cls}.add_to_other_config`, {
      params: 3,
      async: false,
      handler: ({ pool }, [ref, key, value]) => {
        const rec = pool.db.get(cls, str(ref));
        const k = str(key);
        if (k in (rec.other_config as Record<string, string>)) fail('MAP_DUPLICATE_KEY', cls, 'other_config', rec.uuid as string, k);
        pool.db.mutate(cls, str(ref), (r) => ((r.other_config as Record<string, string>)[k] = str(value)));
        return '';
      },
    });
    def(`${cls}.remove_from_other_config`, {
      params: 2,
      async: false,
      handler: ({ pool }, [ref, key]) => {
        pool.db.mutate(cls, str(ref), (r) => delete (r.other_config as Record<string, string>)[str(key)]);
        return '';
      },
    });
    def(`${cls}.set_other_config`, {
      params: 2,
      async: false,
      handler: ({ pool }, [ref, value]) => {
        pool.db.update(cls, str(ref), { other_config: strMap(value) });
        return '';
      },
    });
  }
  if (FIELDS[cls].includes('name_label') && cls !== 'task')
    def(`${cls}.set_name_label`, {
      params: 2,
      async: false,
      handler: ({ pool }, [ref, value]) => {
        pool.db.update(cls, str(ref), { name_label: str(value) });
        return '';
      },
    });
}
