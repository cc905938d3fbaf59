#!/usr/bin/python3
"""Runs a command under a seccomp filter, as systemd applies a unit's SystemCallFilter= (test/deploy/systemd-unit.test.ts).

usage: seccomp-exec.py SPEC.json COMMAND [ARG...]
SPEC: {"mode": "allow" | "deny", "syscalls": [names], "errno": null | "EPERM", "user": null | [uid, gid]}
  allow: only the listed system calls are permitted; deny: only the listed ones are refused.
  A refused call kills the process with SIGSYS (systemd's default), or fails with errno when one is given
  (SystemCallErrorNumber=). Names unknown on this architecture are skipped, as systemd skips them.
  user: run as this uid and gid when started as root, as the unit's DynamicUser= does (SQLite, for one, chowns its
  journal only when it runs as root).
Needs Debian's python3-seccomp (libseccomp's own bindings).
"""
import errno
import json
import os
import sys

import seccomp

spec = json.load(open(sys.argv[1]))
if spec.get("user") and os.geteuid() == 0:
    uid, gid = spec["user"]
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
refuse = seccomp.KILL_PROCESS if spec["errno"] is None else seccomp.ERRNO(getattr(errno, spec["errno"]))
allow_listed = spec["mode"] == "allow"
f = seccomp.SyscallFilter(refuse if allow_listed else seccomp.ALLOW)
for name in spec["syscalls"]:
    try:
        f.add_rule(seccomp.ALLOW if allow_listed else refuse, name)
    except (RuntimeError, ValueError):
        pass  # not a system call of this architecture
f.load()
os.execv(sys.argv[2], sys.argv[2:])
