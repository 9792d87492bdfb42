#!/usr/bin/python3
"""Run a program under the parts of a systemd unit's sandbox that need no service manager.

usage: unit-sandbox.py [--allow FILE] [--mdwe] -- PROGRAM ARGS...

--allow FILE  a seccomp filter allowing only the system calls named in FILE (one per line),
              every other one failing with EPERM: what SystemCallFilter= with
              SystemCallErrorNumber=EPERM builds (libseccomp, native architecture only, as
              SystemCallArchitectures=native). no_new_privs is set first (NoNewPrivileges=yes).
--mdwe        the kernel's memory-deny-write-execute (prctl PR_SET_MDWE, Linux 6.3+), which
              refuses to make memory executable once written, as MemoryDenyWriteExecute= does.
"""
import ctypes
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_EPERM = 0x00050000 | 1


def fail(msg):
    sys.stderr.write(f"unit-sandbox: {msg}\n")
    sys.exit(125)


def main(argv):
    allow, mdwe = None, False
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--allow":
            allow = argv.pop(0)
        elif opt == "--mdwe":
            mdwe = True
        else:
            fail(f"unknown option {opt}")
    if not argv or len(argv) < 2:
        fail("no program given after --")
    program = argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail(f"PR_SET_NO_NEW_PRIVS: errno {ctypes.get_errno()}")
    if mdwe and libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        fail(f"PR_SET_MDWE: errno {ctypes.get_errno()} (needs Linux 6.3 or later)")
    if allow:
        seccomp = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        seccomp.seccomp_init.restype = ctypes.c_void_p
        seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
        seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
        seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
        ctx = seccomp.seccomp_init(SCMP_ACT_ERRNO_EPERM)
        if not ctx:
            fail("seccomp_init failed")
        allowed = 0
        with open(allow) as f:
            for name in (line.strip() for line in f):
                if not name:
                    continue
                nr = seccomp.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:
                    continue  # not a system call of this architecture
                if seccomp.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0:
                    fail(f"seccomp_rule_add {name} failed")
                allowed += 1
        if allowed < 50:
            fail(f"only {allowed} system calls allowed: is {allow} the expanded list?")
        if seccomp.seccomp_load(ctx) != 0:
            fail("seccomp_load failed")
    os.execv(program[0], program)


main(sys.argv[1:])
