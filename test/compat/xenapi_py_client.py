"""The vendor SDK's XenAPI.py (Debian's python3-os-xenapi) against a simulated pool (issue 12, client
compatibility). Run by test/compat/clients.test.ts. Prints one JSON line.

Usage: python3 xenapi_py_client.py <slave url> <user> <password>
It logs in on a slave, follows HOST_IS_SLAVE to the master as XenAPI.py users do, reads records, starts an
Async call and waits on its task (task.get_status polling, the SDK's documented way), then reads the result.
"""
import json
import ssl
import sys
import time
import xmlrpc.client

try:
    import XenAPI  # a vendor copy on the path
except ImportError:
    from os_xenapi.client import XenAPI

slave_url, user, password = sys.argv[1:4]


def open_session(url):
    # the simulator's hosts have self-signed certificates, as real ones do; the bot pins them, this script does not
    if url.startswith("https"):
        return XenAPI.Session(url, transport=xmlrpc.client.SafeTransport(context=ssl._create_unverified_context()))
    return XenAPI.Session(url)


out = {}
try:
    session = open_session(slave_url)
    try:
        session.xenapi.login_with_password(user, password, "1.0", "xenapi-py-compat")
        out["redirected"] = False
    except XenAPI.Failure as f:
        if f.details[0] != "HOST_IS_SLAVE":
            raise
        out["redirected"] = True
        master = f.details[1]
        port = slave_url.rsplit(":", 1)[1]
        scheme = slave_url.split("://", 1)[0]
        session = open_session("%s://%s:%s" % (scheme, master, port))
        session.xenapi.login_with_password(user, password, "1.0", "xenapi-py-compat")
    x = session.xenapi
    hosts = x.host.get_all_records()
    vms = {r: v for r, v in x.VM.get_all_records().items() if not v["is_control_domain"] and not v["is_a_template"]}
    out["hosts"] = sorted(h["name_label"] for h in hosts.values())
    out["vms"] = sorted(v["name_label"] for v in vms.values())
    vm_ref, vm = next((r, v) for r, v in sorted(vms.items(), key=lambda kv: kv[1]["name_label"]) if v["power_state"] == "Running")
    target = next(r for r in hosts if r != vm["resident_on"])
    task = x.Async.VM.pool_migrate(vm_ref, target, {"live": "true"})
    deadline = time.time() + 30
    while x.task.get_status(task) == "pending" and time.time() < deadline:
        time.sleep(0.02)
    out["task_status"] = x.task.get_status(task)
    out["task_result"] = x.task.get_result(task)
    x.task.destroy(task)
    out["migrated"] = {"vm": vm["name_label"], "to": hosts[target]["name_label"]}
    out["resident_after"] = hosts[x.VM.get_resident_on(vm_ref)]["name_label"]
    x.logout()
    out["ok"] = True
except Exception as e:  # reported to the test, which fails with it
    out["ok"] = False
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
