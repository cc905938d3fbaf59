// Xen Orchestra's `xen-api` client against a simulated pool (issue 12, client compatibility). Run by
// test/compat/xo-client.test.ts as a child process (the package is ES modules only). Prints one JSON line.
// Usage: node xo-client.mjs <master url> <user> <password>
import { createClient } from 'xen-api';

const [url, user, password] = process.argv.slice(2);
const xapi = createClient({ url, auth: { user, password }, allowUnauthorized: true, readOnly: false });
const out = {};
try {
  await xapi.connect();
  await xapi.objectsFetched; // the object cache: every record, then kept current by event.from
  const all = Object.values(xapi.objects.all);
  const vms = all.filter((o) => o.$type === 'VM' && !o.is_control_domain && !o.is_a_template && !o.is_a_snapshot);
  const hosts = all.filter((o) => o.$type === 'host');
  out.pool = all.find((o) => o.$type === 'pool')?.name_label;
  out.hosts = hosts.map((h) => h.name_label).sort();
  out.vms = vms.map((v) => v.name_label).sort();
  const vm = vms.find((v) => v.power_state === 'Running');
  const target = hosts.find((h) => h.$ref !== vm.resident_on);
  out.migrated = { vm: vm.name_label, to: target.name_label };
  // an Async call followed to completion through xen-api's own task watching
  out.result = await xapi.callAsync('VM.pool_migrate', vm.$ref, target.$ref, { live: 'true' });
  // the cache follows: wait for the event that moves the VM
  const deadline = Date.now() + 10_000;
  while (xapi.getObjectByRef(vm.$ref).resident_on !== target.$ref && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  out.residentAfter = hosts.find((h) => h.$ref === xapi.getObjectByRef(vm.$ref).resident_on)?.name_label;
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e?.stack ?? e);
} finally {
  await xapi.disconnect().catch(() => {});
}
console.log(JSON.stringify(out));
process.exit(0);
