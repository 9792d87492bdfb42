// The process: options → settings → check → output → exit code, under one hard deadline.
// Exit codes are only 0 (pass), 1 (anything else) and N+2 (a pass with --weight N).
import { writeSync } from 'node:fs';
import { collect } from './options.ts';
import { toSettings } from './settings.ts';
import type { Settings } from './settings.ts';
import { usage, versionLine } from './help.ts';
import { UsageError } from './errors.ts';
import { PhaseClock, NETWORK_PHASES, sinceStartMs } from './phases.ts';
import { runCheck } from './run.ts';
import { scrub, verboseLines, jsonReport, logLine } from './output.ts';
import type { Outcome } from './output.ts';

const phases = new PhaseClock();
let settings: Settings | undefined;
let done = false;

// Once the driver is loaded, Node has made a piped stdout non-blocking: a write may take part of
// the text, or fail with EAGAIN while the pipe is full. A late reader is waited for, briefly.
const OUTPUT_WAIT_MS = 1000;
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
      outputWaitEnd ??= sinceStartMs() + OUTPUT_WAIT_MS;
      if (sinceStartMs() >= outputWaitEnd) return;
      Atomics.wait(nap, 0, 0, 5);
    }
  }
}

/** The only way out: never a code other than 0, 1 or 2..255 for a pass. */
function exit(code: number, pass: boolean): never {
  const safe = pass && Number.isInteger(code) && (code === 0 || (code >= 2 && code <= 255)) ? code : 1;
  process.exit(safe);
}

function oneLine(text: string): string {
  const pw = settings?.password ?? process.env.MSSQL_PASSWORD;
  return scrub(text, pw).replace(/[\r\n]+/g, ' ');
}

function finish(o: Outcome): never {
  if (done) exit(1, false);
  done = true;
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

/** A failure that ends the run where it stands (deadline, signal, internal error). */
function abort(reason: string, errorCode: string): never {
  if (!settings || done) {
    write(2, oneLine(`mssql-role-check: ${reason}`) + '\n');
    exit(1, false);
  }
  const o: Outcome = {
    pass: false, exitCode: 1, reason, errorCode, phase: phases.current,
    databases: settings.databases.map((name) => ({ name, pass: false, reason })),
    timings: phases.timings(),
  };
  // An internal error is a bug: say so even without -v.
  if (errorCode === 'INTERNAL' && !settings.verbose) write(2, oneLine(`mssql-role-check: ${reason}`) + '\n');
  finish(o);
}

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

process.on('uncaughtException', lastResort(uncaught));
process.on('unhandledRejection', lastResort(uncaught));
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) {
  process.on(sig, lastResort(() => abort(`stopped by ${sig} during ${phases.current}`, 'SIGNAL')));
}
// Node's own warnings (e.g. TLS server name set to an IP address) would break the one-line promise.
process.removeAllListeners('warning');
process.noDeprecation = true;

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
  const s = settings;
  const remainingMs = () => s.timeoutMs - sinceStartMs();
  const secs = s.timeoutMs / 1000;
  setTimeout(() => abort(`timeout after ${secs}s during ${phases.current}`, 'TIMEOUT'), Math.max(0, remainingMs()));
  finish(await runCheck(s, phases, remainingMs));
}

main(process.argv.slice(2)).catch((err) => abort(`internal error during ${phases.current}: ${firstLine(err)}`, 'INTERNAL'));
