// Process and timing helpers for the tests that drive real peers (keepalived, HAProxy, qemu) and
// the fault/fuzz/bad-input tables: bounded waits, daemons killed by process group, one-shot runs
// with a hard time limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `probe` until it returns true; resolves to the elapsed ms, rejects after `limitMs`. */
export async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, limitMs: number, everyMs = 50): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - start;
    if (performance.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** true when the run had to be killed because it passed `limitMs` */
  killed: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** hard limit; the child gets SIGKILL past it */
  limitMs: number;
  /** called once the child is running (e.g. to signal it at a chosen moment) */
  onSpawn?: (child: ChildProcess) => void;
}

/** Run a command to completion with a hard time limit, capturing everything (never throws for exit codes). */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, opts.limitMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.stdin!.on('error', () => { /* the child may exit before reading its input */ });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - start, killed });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input); else child.stdin!.end();
    opts.onSpawn?.(child);
  });
}

/** A long-running program started in its own process group so it and its children stop together. */
export class Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  output = '';
  private exited: Promise<void>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private alive = true;

  constructor(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string) {
    this.name = name;
    this.child = spawn(cmd, args, { env: env ?? process.env, cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const add = (b: Buffer) => { this.output += b.toString('utf8'); if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000); };
    this.child.stdout!.on('data', add);
    this.child.stderr!.on('data', add);
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => { this.output += `\n[spawn error: ${e.message}]\n`; this.alive = false; resolve(); });
      this.child.on('close', (code, signal) => { this.alive = false; this.exitCode = code; this.exitSignal = signal; resolve(); });
    });
    liveDaemons.add(this);
  }

  get running(): boolean { return this.alive; }

  /** Wait until the output matches `re` (searching from `from`); rejects if the program exits first. */
  async waitForOutput(re: RegExp, limitMs: number, from = 0): Promise<RegExpMatchArray> {
    let m: RegExpMatchArray | null = null;
    await waitUntil(`${this.name} to print ${re}`, () => {
      m = this.output.slice(from).match(re);
      if (m) return true;
      if (!this.alive) throw new Error(`${this.name} exited (code ${this.exitCode}, signal ${this.exitSignal}) before printing ${re}:\n${this.tail()}`);
      return false;
    }, limitMs, 25);
    return m!;
  }

  write(line: string): void { this.child.stdin!.write(line); }

  tail(lines = 40): string { return this.output.split('\n').slice(-lines).join('\n'); }

  /** SIGTERM to the whole group, SIGKILL if still there after `graceMs`. Always resolves. */
  async stop(graceMs = 3000): Promise<void> {
    liveDaemons.delete(this);
    if (!this.alive) return;
    signalGroup(this.child.pid, 'SIGTERM');
    const gone = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!gone) {
      signalGroup(this.child.pid, 'SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try { process.kill(-pid, sig); } catch { try { process.kill(pid, sig); } catch { /* already gone */ } }
}

// Last resort if a test file dies without running its `after` hooks: kill what it started.
const liveDaemons = new Set<Daemon>();
process.on('exit', () => { for (const d of liveDaemons) signalGroup(d.child.pid, 'SIGKILL'); });

/** A private temporary directory (0700), removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A copy of a program in `dir` (mode 0755). keepalived's enable_script_security refuses a script
 * with a path component writable by a non-root group or by others (a checkout made with umask 002
 * is); a private temporary directory under the sticky /tmp passes.
 */
export function secureCopy(program: string, dir: string, name: string): string {
  const to = join(dir, name);
  copyFileSync(program, to);
  chmodSync(to, 0o755);
  return to;
}

/** Write a file with mode 0600 (password and config files must not be readable by others). */
export function writePrivate(path: string, text: string | Buffer): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** A TCP port that was free a moment ago on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A short random tag for names that must not collide with a parallel run (netns, interfaces). */
export function uniqueTag(): string {
  return (process.pid % 10000).toString(36) + Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, '0');
}

/** Milliseconds printed the same way by every test that measures something. */
export const fmtMs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
