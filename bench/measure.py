#!/usr/bin/python3
"""Run commands N times each, interleaved, and report wall time, CPU time and peak RSS per run.

Reads JSON on stdin: {"runs": N, "warmup": W, "cases": [{"name", "argv", "env", "stdin", "expect"}]}
Writes JSON on stdout: {name: [{"wall_ms", "cpu_ms", "rss_kb", "status"}, ...]}

Why Python and not /usr/bin/time alone: GNU time prints times to 10 ms, coarser than what we
measure (~30 ms). Here wall time is taken around the child and CPU time (user+sys) comes from
wait4's rusage, both to the microsecond. Peak RSS still comes from GNU time's %M: a child forked
from this Python process would report Python's own RSS (~7 MB) as its peak, because Linux keeps
the larger of the pre-exec and post-exec peaks; GNU time forks from a ~1 MB process.
GNU time's own start (~1 ms wall, ~0.5 ms CPU) is in every figure alike; the harness row of the
bench shows it.

Runs are interleaved (case 1, case 2, ..., case 1, ...) so that a burst of load on the machine
spreads over every case instead of landing on one.
"""
import json
import os
import sys
import tempfile
import time


def run_once(case, rss_file, err_file):
    env = case.get("env", {})
    argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + case["argv"]
    stdin_r, stdin_w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            # No controlling terminal: tools that ask for a password read it from stdin.
            os.setsid()
            os.dup2(stdin_r, 0)
            os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
            os.dup2(os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            os.closerange(3, 256)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(stdin_r)
    data = case.get("stdin", "").encode()
    try:
        os.write(stdin_w, data)  # small: fits the pipe buffer
    except BrokenPipeError:
        pass
    os.close(stdin_w)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    with open(rss_file) as f:
        lines = f.read().split()
    # GNU time writes "Command exited with non-zero status N" before %M when the child fails.
    rss = int(lines[-1]) if lines and lines[-1].isdigit() else -1
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": (ru.ru_utime + ru.ru_stime) * 1000,
        "rss_kb": rss,
        "status": os.waitstatus_to_exitcode(status),
    }


def main():
    spec = json.load(sys.stdin)
    runs, warmup, cases = spec["runs"], spec.get("warmup", 1), spec["cases"]
    results = {c["name"]: [] for c in cases}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rss_file, err_file = os.path.join(tmp, "rss"), os.path.join(tmp, "stderr")
        for i in range(warmup + runs):
            for case in cases:
                r = run_once(case, rss_file, err_file)
                expect = case.get("expect", 0)
                if r["status"] != expect:
                    with open(err_file, errors="replace") as f:
                        err = f.read()[-2000:]
                    sys.exit(f"measure: {case['name']} exited {r['status']}, expected {expect}\n{err}")
                if i >= warmup:
                    results[case["name"]].append(r)
    json.dump(results, sys.stdout)


main()
