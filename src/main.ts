// The process: options → settings → check → output → exit code, under one hard deadline.
// Exit codes are only 0 (pass), 1 (anything else) and N+2 (a pass with --weight N).
import { writeSync, closeSync, openSync } from 'node:fs';
import { collect } from './options.ts';
import { toSettings } from './settings.ts';
import type { Settings } from './settings.ts';
import { usage, versionLine } from './help.ts';
import { UsageError } from './errors.ts';
import { PhaseClock, NETWORK_PHASES, sinceStartMs } from './phases.ts';
import { runCheck } from './run.ts';
import { scrub, verboseLines, jsonReport, logLine } from './output.ts';
import type { Outcome } from './output.ts';
import { OPTIONS } from './cli-spec.ts';
import { armKiller, startInterrupter, ON_DEADLINE, KILL_AFTER_MS, INTERRUPTER_AT_MS } from './watchdog.ts';
import type { Killer, Interrupter } from './watchdog.ts';

const phases = new PhaseClock();
let settings: Settings | undefined;
let done = false;

// The run's deadline in milliseconds since the process started (the default until the settings say).
let deadlineMs = Number(OPTIONS.find((o) => o.name === 'timeout')!.default) * 1000;
// What holds the deadline when the main thread cannot (src/watchdog.ts).
let killer: Killer | undefined;
let interrupter: Interrupter | undefined;

// Once the driver is loaded, Node has made a piped stdout non-blocking: a write may take part of
// the text, or fail with EAGAIN while the pipe is full. A late reader is waited for, briefly, and
// never past the deadline by more than OUTPUT_PAST_DEADLINE_MS (the killer's SIGKILL comes at
// KILL_AFTER_MS).
const OUTPUT_WAIT_MS = 1000;
const OUTPUT_PAST_DEADLINE_MS = KILL_AFTER_MS - 200;
let outputWaitEnd: number | undefined;
const nap = new Int32Array(new SharedArrayBuffer(4));

function write(fd: 1 | 2, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      // stdout/stderr closed (keepalived): nothing to tell, the exit code still speaks
      if ((err as NodeJS.ErrnoException)?.code !== 'EAGAIN') return;
      outputWaitEnd ??= Math.min(sinceStartMs() + OUTPUT_WAIT_MS, deadlineMs + OUTPUT_PAST_DEADLINE_MS);
      if (sinceStartMs() >= outputWaitEnd) return;
      Atomics.wait(nap, 0, 0, 5);
    }
  }
}

// Requests that run on libuv's thread pool. process.exit waits for that pool's threads, so one
// stuck in a hung stat or a getaddrinfo that never returns would hold the exit indefinitely.
const THREAD_POOL_WORK = /^(FSReq|FileHandle|GetAddrInfo|GetNameInfo)/;

/** The only way out: never a code other than 0, 1 or 2..255 for a pass. */
function exit(code: number, pass: boolean): never {
  const safe = pass && Number.isInteger(code) && (code === 0 || (code >= 2 && code <= 255)) ? code : 1;
  // The interrupter's inspector session makes Node print "Waiting for the debugger to disconnect..."
  // on exit; our last line is out, so stderr becomes /dev/null (open takes the lowest free fd).
  if (interrupter?.fired()) {
    try {
      closeSync(2);
      openSync('/dev/null', 'w');
    } catch {
      // stderr stays closed: Node's line goes nowhere either
    }
  }
  // The killer is not needed past this point, unless the exit may wait for the thread pool.
  if (!process.getActiveResourcesInfo().some((r) => THREAD_POOL_WORK.test(r))) killer?.disarm();
  process.exit(safe);
}

function oneLine(text: string): string {
  const pw = settings?.password ?? process.env.MSSQL_PASSWORD;
  return scrub(text, pw).replace(/[\r\n]+/g, ' ');
}

function finish(o: Outcome): never {
  if (done) exit(1, false);
  done = true;
  // Past this point the interrupter no longer interrupts (the killer stays armed). If it already
  // has, the run is over its deadline: it ends as a timeout, never as a late pass.
  if (interrupter && !interrupter.claimExit() && o.errorCode !== 'TIMEOUT') o = timeoutOutcome();
  const s = settings!;
  if (s.verbose) for (const line of verboseLines(o, s)) write(2, oneLine(line) + '\n');
  if (s.json) write(1, jsonReport(o, s) + '\n');
  if (s.logFd !== undefined) {
    try {
      writeSync(s.logFd, oneLine(logLine(o, s, new Date())) + '\n');
    } catch {
      // opened fine, so the path is right; a full disk must not change the verdict
    }
  }
  exit(o.exitCode, o.pass);
}

function failure(reason: string, errorCode: string): Outcome {
  return {
    pass: false, exitCode: 1, reason, errorCode, phase: phases.current,
    databases: (settings?.databases ?? []).map((name) => ({ name, pass: false, reason })),
    timings: phases.timings(),
  };
}

const timeoutReason = () => `timeout after ${deadlineMs / 1000}s during ${phases.current}`;
const timeoutOutcome = () => failure(timeoutReason(), 'TIMEOUT');

/** A failure that ends the run where it stands (deadline, signal, internal error). */
function abort(reason: string, errorCode: string): never {
  if (!settings || done) {
    write(2, oneLine(`mssql-role-check: ${reason}`) + '\n');
    exit(1, false);
  }
  // An internal error is a bug: say so even without -v.
  if (errorCode === 'INTERNAL' && !settings.verbose) write(2, oneLine(`mssql-role-check: ${reason}`) + '\n');
  finish(failure(reason, errorCode));
}

/**
 * The interrupter's call: the main thread did not yield at its deadline (or was in a system call
 * when its timer was due). Runs inside whatever JavaScript was running; never returns there,
 * except when the run is already writing its last output (which ends in exit).
 */
(globalThis as Record<symbol, unknown>)[ON_DEADLINE] = lastResort(() => {
  if (done) return;
  abort(timeoutReason(), 'TIMEOUT');
});

function firstLine(err: unknown): string {
  try {
    const msg = err instanceof Error ? err.message : String(err);
    return String(msg).split('\n', 1)[0];
  } catch {
    return 'an exception that cannot be shown';
  }
}

/**
 * Every handler of the last resort goes through this: should it throw, Node would exit 7, which
 * keepalived's misc_dynamic reads as "up".
 */
function lastResort<A extends unknown[]>(handler: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      handler(...args);
    } catch {
      if (!done) write(2, 'mssql-role-check: internal error while reporting an error\n');
      process.exit(1);
    }
  };
}

/**
 * An exception nobody caught. While the server is being talked to it is the driver choking on
 * what the server sent (a token it cannot parse): the server's fault. Elsewhere it is our bug.
 */
function uncaught(err: unknown): never {
  // A part of this program that cannot be loaded (build/shims/chunk.cjs) is not the server's fault.
  if ((err as { code?: unknown } | null)?.code === 'EINCOMPLETE') return abort(`internal error during ${phases.current}: ${firstLine(err)}`, 'INTERNAL');
  if (NETWORK_PHASES.includes(phases.current)) {
    return abort(`unexpected answer from the server during ${phases.current}: ${firstLine(err)}`, 'PROTOCOL');
  }
  return abort(`internal error during ${phases.current}: ${firstLine(err)}`, 'INTERNAL');
}

// `serve` is the daemon (src/serve/, a chunk of its own in the bundle): its own handlers, no deadline.
const SERVE = process.argv[2] === 'serve';
if (!SERVE) {
  process.on('uncaughtException', lastResort(uncaught));
  process.on('unhandledRejection', lastResort(uncaught));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
    process.on(sig, lastResort(() => abort(`stopped by ${sig} during ${phases.current}`, 'SIGNAL')));
  }
}
// Node's own warnings (e.g. TLS server name set to an IP address) would break the one-line promise,
// and so would the driver's console lines (tedious prints one for an ENVCHANGE type it skips).
process.removeAllListeners('warning');
process.noDeprecation = true;
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = () => {};

async function main(argv: string[]): Promise<never> {
  try {
    const c = collect(argv, process.env);
    if (c.help) {
      write(1, usage());
      exit(0, true);
    }
    if (c.version) {
      write(1, versionLine() + '\n');
      exit(0, true);
    }
    settings = toSettings(c.values);
  } catch (err) {
    if (err instanceof UsageError) {
      write(2, oneLine(`mssql-role-check: ${err.message}`) + '\n');
      exit(1, false);
    }
    throw err;
  }
  // The deadline, as soon as it is known (only the files named by the options have been read):
  // the main thread's timer, and what holds it when the main thread cannot (src/watchdog.ts).
  const s = settings;
  deadlineMs = s.timeoutMs;
  killer = armKiller(deadlineMs, sinceStartMs());
  const remainingMs = () => deadlineMs - sinceStartMs();
  setTimeout(() => abort(timeoutReason(), 'TIMEOUT'), Math.max(0, remainingMs()));
  // A run still going when healthy checks are long done gets the interrupter too.
  setTimeout(() => { interrupter = startInterrupter(deadlineMs, sinceStartMs()); },
    Math.max(0, Math.min(INTERRUPTER_AT_MS, deadlineMs / 2) - sinceStartMs())).unref();
  finish(await runCheck(s, phases, remainingMs));
}

if (SERVE) {
  // a chunk that cannot load, or a serve() that rejects: one line and exit 1, never a stack trace
  import('./serve/index.ts').then((m) => m.serve(process.argv.slice(3))).catch((err: unknown) => {
    write(2, `mssql-role-check: internal error: ${firstLine(err)}\n`);
    return 1;
  }).then((code) => exit(code, code === 0));
} else {
  main(process.argv.slice(2)).catch((err) => abort(`internal error during ${phases.current}: ${firstLine(err)}`, 'INTERNAL'));
}
