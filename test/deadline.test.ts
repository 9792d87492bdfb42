// The deadline holds whatever holds the main thread, measured from outside the process, with the
// packed binaries (x64, and arm64 under qemu-aarch64-static): past --timeout, a run ends within
// KILL_AFTER_MS (the stated slack, src/watchdog.ts) plus the time the machine takes to start it.
//   - the main thread loops in JavaScript and never yields (starving-entry.ts: the product with
//     such a loop at the facts query's answer): early in the run the killer ends it (SIGKILL);
//     once the interrupter runs, the run ends with its usual timeout report and exit 1;
//   - the main thread waits in a system call: a stat of the maintenance file on a mount that
//     stopped answering (hung-mount.ts, as a hard NFS mount does), a report written into a full
//     blocking pipe nobody reads (and, non-blocking, the write that gives up);
//   - the exit waits for libuv's thread pool: a host name whose /etc/hosts read hangs.
// Every row could end otherwise (a hang, a later end, exit 0); each checks how it ended and when.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN_X64, BIN_ARM64, ROOT, NODE } from './helpers/paths.ts';
import { startSqlSim, type SqlSim } from './sqlsim/server.ts';
import type { Fault } from './sqlsim/faults.ts';
import { loadScenario, passwordOf, DATABASE, LOGIN } from './peers/sim.ts';
import { tempDir } from './peers/harness.ts';
import { crashSigns } from './fuzz/pool.ts';
import { starvingBinaries } from './deadline/starving.ts';
import { LATE } from './deadline/late.ts';
import { runWithHungMount, type HungMount } from './deadline/hung-mount.ts';
import { KILL_AFTER_MS, INTERRUPTER_AT_MS } from '../src/watchdog.ts';

const QEMU = 'qemu-aarch64-static';
/** the packed binaries, and the unbundled source run by node (for what the binary cannot do yet) */
type Arch = 'x64' | 'arm64' | 'source';
/** --timeout per architecture: emulated start-up takes seconds */
const TIMEOUT_S: Record<Arch, number> = { x64: 2, arm64: 8, source: 2 };
/** how late a process may start and its end be seen, on a loaded machine (emulated: much later) */
const START_MS: Record<Arch, number> = { x64: 700, arm64: 3000, source: 700 };

let tmp: ReturnType<typeof tempDir>;
let principal: SqlSim;
let password: string;
let starving: { x64: string; arm64: string };
let mountpoint: string;

before(async () => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
  starving = starvingBinaries();
  tmp = tempDir('mrc-deadline');
  mountpoint = join(tmp.dir, 'mnt');
  mkdirSync(mountpoint);
  const scenario = loadScenario('principal');
  password = passwordOf(scenario);
  principal = await startSqlSim({ scenario });
});
after(async () => {
  await principal?.close();
  tmp?.remove();
});

interface End {
  status: number | null;
  signal: string | null;
  /** from the start of the run to its end, as seen from outside */
  ms: number;
  stderr: string;
  stdout: string;
}

const product = (arch: Arch) => ({ x64: BIN_X64, arm64: BIN_ARM64, source: join(ROOT, 'src/main.ts') })[arch];
const command = (arch: Arch, bin: string) => ({ x64: [bin], arm64: [QEMU, bin], source: [NODE, bin] })[arch];
/** the hung mount needs the FUSE device and root (to mount, in a namespace of its own) */
const noFuse = async () => (existsSync('/dev/fuse') && process.getuid?.() === 0 ? undefined : 'needs /dev/fuse and root');
const checkArgs = (sim: SqlSim, arch: Arch, extra: string[] = []) =>
  ['--host', sim.host, '--port', String(sim.port), '--database', DATABASE, '--user', LOGIN, '--timeout', String(TIMEOUT_S[arch]), '--encrypt', 'off', '-v', ...extra];
const ENV = () => ({ PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password });

/** A sqlsim with the principal's catalog and a fault, for one row. */
async function withSim<T>(fault: Fault | undefined, body: (sim: SqlSim) => Promise<T>): Promise<T> {
  if (!fault) return body(principal);
  const sim = await startSqlSim({ scenario: loadScenario('principal'), fault });
  try {
    return await body(sim);
  } finally {
    await sim.close();
  }
}

/**
 * Runs the check; resolves when it has ended (the harness kills it at 60 s: a hang), or, with
 * `until`, as soon as its output says so (the process group is then killed).
 */
function runArgv(argv: string[], env: NodeJS.ProcessEnv, until?: RegExp): Promise<End> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    const stop = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (until?.test(stderr)) stop(); });
    const limit = setTimeout(stop, 60_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(limit);
      resolve({ status, signal, ms: performance.now() - start, stdout, stderr });
    });
  });
}

/** Runs the check with a mount that stops answering (hung-mount.ts); the hang must have been met. */
async function hung(mount: HungMount, setup: string, argv: string[]): Promise<End> {
  const r = await runWithHungMount(mount, mountpoint, setup, argv, ENV());
  assert.ok(r.held.length > 0, `the check never made the call that hangs: ${r.signal ?? `exit ${r.status}`}: ${r.stderr}`);
  return r;
}

/**
 * Runs the check with its stdout a pipe that is full before it starts (64 KiB written by head) and
 * that nobody reads; the shell around it says when and how it ended.
 */
async function runIntoFullPipe(argv: string[], env: NodeJS.ProcessEnv): Promise<End> {
  const script = 'head -c 65536 /dev/zero; s=$(date +%s%N); "$0" "$@" 2>&3; c=$?; e=$(date +%s%N); echo "end $c $(( (e - s) / 1000000 ))" >&2';
  const r = await runArgv(['/bin/sh', '-c', `{ ${script}; } 3>&2 | sleep 30`, ...argv], env, /^end \d+ \d+$/m);
  const m = /^end (\d+) (\d+)$/m.exec(r.stderr);
  assert.ok(m, `the shell did not say how the check ended: ${r.stderr}`);
  const code = Number(m[1]);
  return { status: code > 128 ? null : code, signal: code === 128 + 9 ? 'SIGKILL' : code > 128 ? `signal ${code - 128}` : null,
    ms: Number(m[2]), stdout: '', stderr: r.stderr.replace(/^end .*\n?/m, '') };
}

interface Row {
  label: string;
  arches: Arch[];
  run: (arch: Arch) => Promise<End>;
  /** how the run must end */
  ends: 'exit 1' | 'SIGKILL' | 'exit 1 or SIGKILL';
  /** what stderr's one line must say, for a run that exits 1 */
  reason?: RegExp;
  /** how far past the deadline it may end (besides the start-up allowance) */
  pastMs: number;
  /** why the row cannot run on this build (it is then skipped, loudly) */
  cannotRun?: (arch: Arch) => Promise<string | undefined>;
}

const TABLE: Row[] = [
  {
    label: 'the main thread loops from the facts query\'s answer on (early: only the killer can end it)',
    // (under qemu start-up alone outlasts INTERRUPTER_AT_MS: no loop there comes before the interrupter)
    arches: ['x64'],
    // a loaded machine may start the loop after the interrupter: then the run is tried again
    run: async (arch) => {
      for (let attempt = 1; ; attempt++) {
        const end = await runArgv([...command(arch, starving[arch as 'x64']), ...checkArgs(principal, arch)], ENV());
        if (!end.stderr.includes(LATE)) return end;
        console.log(`# attempt ${attempt}: the loop started after ${INTERRUPTER_AT_MS} ms (${end.signal ?? `exit ${end.status}`}), again`);
        if (attempt === 5) return { ...end, stderr: `${end.stderr}(5 attempts, the loop always started late)` };
      }
    },
    ends: 'SIGKILL', pastMs: KILL_AFTER_MS,
  },
  {
    label: `the main thread loops from a late answer on (past ${INTERRUPTER_AT_MS} ms: the interrupter ends it)`,
    arches: ['x64', 'arm64'],
    // the answer comes late enough for the interrupter to have started, early enough to loop before the deadline
    run: (arch) => withSim({ name: 'delay', ms: arch === 'x64' ? 1200 : 1000, on: 'rpc' }, async (sim) => {
      const end = await runArgv([...command(arch, starving[arch as 'x64' | 'arm64']), ...checkArgs(sim, arch, ['--json'])], ENV());
      assert.ok(end.stderr.includes(LATE), `the loop started before the interrupter could: ${end.stderr}`);
      return { ...end, stderr: end.stderr.replace(`${LATE}\n`, '') };
    }),
    ends: 'exit 1', reason: /FAIL: timeout after \d+s during query \(TIMEOUT/, pastMs: KILL_AFTER_MS,
  },
  {
    label: 'a stat of the maintenance file that hangs, on a mount that stopped answering (the main thread in a system call)',
    arches: ['x64', 'arm64'],
    run: (arch) => hung({ files: [], hang: { lookup: 'drain' } }, '',
      [...command(arch, product(arch)), ...checkArgs(principal, arch, ['--maintenance-file', `${mountpoint}/drain`])]),
    ends: 'SIGKILL', pastMs: KILL_AFTER_MS, cannotRun: noFuse,
  },
  {
    label: 'a host name whose /etc/hosts read hangs (the exit waits for the thread pool, or the main thread for the read)',
    // the source too: its name lookup (getaddrinfo, in libuv's thread pool) is what holds an exit
    arches: ['x64', 'source'],
    // /etc/hosts, in the namespace only, is a file of the mount whose OPEN is never answered
    run: (arch) => hung({ files: ['hosts'], hang: { open: 'hosts' } }, 'mount --bind "$MNT/hosts" /etc/hosts',
      [...command(arch, product(arch)), ...checkArgs(principal, arch).map((a) => (a === principal.host ? 'localhost' : a))]),
    ends: 'exit 1 or SIGKILL', pastMs: KILL_AFTER_MS,
    cannotRun: async (arch) => {
      if (await noFuse()) return noFuse();
      const r = await runArgv([...command(arch, product(arch)), ...checkArgs(principal, arch).map((a) => (a === principal.host ? 'localhost' : a))], ENV());
      return r.status === 0 ? undefined : `this build does not check a server by host name (${r.stderr.trim()})`;
    },
  },
  {
    label: 'the timeout report written into a full pipe nobody reads (non-blocking: the write gives up)',
    arches: ['x64'],
    run: (arch) => withSim({ name: 'black-hole' }, (sim) => runIntoFullPipe([...command(arch, product(arch)), ...checkArgs(sim, arch, ['--json'])], ENV())),
    ends: 'exit 1', reason: /FAIL: timeout after \d+s during prelogin/, pastMs: KILL_AFTER_MS - 200,
  },
  {
    label: 'a drained server\'s report written into a full blocking pipe nobody reads (the main thread in write)',
    arches: ['x64'],
    run: (arch) => {
      const path = join(tmp.dir, 'drained');
      writeFileSync(path, '');
      return runIntoFullPipe([...command(arch, product(arch)), ...checkArgs(principal, arch, ['--json', '--maintenance-file', path])], ENV());
    },
    ends: 'SIGKILL', pastMs: KILL_AFTER_MS,
  },
];

for (const row of TABLE) {
  for (const arch of row.arches) {
    test(`${row.label} [${arch}] → ${row.ends} within --timeout + ${row.pastMs} ms`, async (t) => {
      const cannot = await row.cannotRun?.(arch);
      if (cannot) {
        console.log(`# SKIPPED, NOT PROVEN: ${row.label} [${arch}]: ${cannot}`);
        return t.skip(cannot);
      }
      const end = await row.run(arch);
      const how = end.signal ?? `exit ${end.status}`;
      const said = `${how} after ${Math.round(end.ms)} ms; stderr: ${end.stderr}`;
      const limit = TIMEOUT_S[arch] * 1000 + row.pastMs + START_MS[arch];
      console.log(`# ${row.label} [${arch}]: ${how} after ${Math.round(end.ms)} ms (limit ${limit})`);
      assert.notEqual(end.status, 0, `a pass: ${said}`);
      if (row.ends === 'SIGKILL') assert.equal(end.signal, 'SIGKILL', said);
      if (row.ends === 'exit 1') assert.equal(end.status, 1, said);
      if (row.ends === 'exit 1 or SIGKILL') assert.ok(end.status === 1 || end.signal === 'SIGKILL', said);
      assert.ok(end.ms >= TIMEOUT_S[arch] * 1000, `ended before its deadline: ${said}`);
      assert.ok(end.ms <= limit, `ended too late: ${said}`);
      assert.equal(crashSigns(end.stdout + end.stderr), undefined, said);
      if (end.status === 1) {
        const lines = end.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `one line on stderr (nothing from the inspector): ${end.stderr}`);
        if (row.reason) assert.match(lines[0], row.reason);
      }
    });
  }
}

test('a slow pass, with the interrupter started and waiting, ends at once: exit 0, nothing on stderr', async () => {
  // the answer comes after INTERRUPTER_AT_MS: the worker runs, blocked in Atomics.wait, when the check exits
  const end = await withSim({ name: 'delay', ms: INTERRUPTER_AT_MS + 300, on: 'rpc' },
    (sim) => runArgv([BIN_X64, '--host', sim.host, '--port', String(sim.port), '--database', DATABASE, '--user', LOGIN, '--timeout', '5', '--encrypt', 'off', '--json'], ENV()));
  assert.equal(end.status, 0, `${end.signal ?? ''} ${end.stderr}${end.stdout}`);
  assert.equal(end.stderr, '');
  const report = JSON.parse(end.stdout) as { timings: { total: number } };
  assert.ok(report.timings.total > INTERRUPTER_AT_MS, `the interrupter had started (${report.timings.total} ms)`);
  // from the report's last timing (taken just before the output) to the process gone, seen from outside
  const exitMs = end.ms - report.timings.total;
  console.log(`# slow pass: reported at ${Math.round(report.timings.total)} ms, gone ${Math.round(exitMs)} ms later (start-up included)`);
  assert.ok(exitMs < START_MS.x64, `the exit took ${Math.round(exitMs)} ms`);
});
