// The daemon as the serve tests (and the benches) run it: a config written 0600 into a fresh
// directory, `mssql-role-check serve --config FILE` started (the source under the pinned Node, or
// a packed binary), its stderr collected line by line, its port read from the "listening on"
// line (the configs say listen = 127.0.0.1:0), and plain HTTP requests to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, NODE } from '../helpers/paths.ts';

export const SOURCE = join(ROOT, 'src/main.ts');
export const MONITOR_PASSWORD = 'Sim-Monitor-Passw0rd';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the body as JSON, when it is JSON */
  json?: Record<string, unknown>;
  ms: number;
}

/** One HTTP request on a connection of its own; rejects on a network error or after limitMs. */
export function request(port: number, path: string, method = 'GET', headers: Record<string, string> = {}, limitMs = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false, timeout: limitMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try {
          if (text.startsWith('{')) json = JSON.parse(text) as Record<string, unknown>;
        } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, headers: res.headers, text, json, ms: performance.now() - start });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} within ${limitMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  dir: string;
  configPath: string;
  /** every stderr line so far */
  lines: string[];
  get(path: string, method?: string): Promise<Reply>;
  /** resolves with the first line (from `from` on) matching re */
  waitForLine(re: RegExp, limitMs?: number, from?: number): Promise<string>;
  /** rewrite the config (0600), e.g. before a SIGHUP */
  writeConfig(text: string): void;
  /** the daemon's resident set in KB (/proc/PID/status VmRSS) */
  rssKb(): number;
  /** SIGTERM, then the exit: code, signal and ms from the signal */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export interface StartOptions {
  /** the config text; @DIR@ becomes the daemon's directory */
  config: string;
  /** a packed binary; default: the source under the pinned Node */
  bin?: string;
  /** a command to run the binary with (qemu-aarch64-static ...) */
  via?: string[];
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** files to write into the directory first, 0600 (e.g. { password: '...' }) */
  files?: Record<string, string>;
  limitMs?: number;
}

/** Start the daemon and wait for its "listening on" line. */
export async function startServe(o: StartOptions): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  for (const [name, text] of Object.entries(o.files ?? {})) {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  }
  const configPath = join(dir, 'serve.conf');
  const writeConfig = (text: string) => {
    writeFileSync(configPath, text.replaceAll('@DIR@', dir), { mode: 0o600 });
    chmodSync(configPath, 0o600);
  };
  writeConfig(o.config);
  const argv = ['serve', '--config', configPath, ...(o.args ?? [])];
  const [cmd, ...pre] = o.bin ? [...(o.via ?? []), o.bin] : [NODE, SOURCE];
  const child = spawn(cmd, [...pre, ...argv], { env: o.env ?? { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  const waiters: Array<() => void> = [];
  child.stderr!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString('utf8')).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => {
    for (const w of waiters.splice(0)) w();
    resolve({ code, signal });
  }));
  let done = false;
  void exited.then(() => { done = true; });
  const waitForLine = (re: RegExp, limitMs = 10_000, from = 0) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${limitMs} ms; stderr:\n${lines.join('\n')}`)), limitMs);
    const look = () => {
      const hit = lines.slice(from).find((l) => re.test(l));
      if (hit !== undefined) {
        clearTimeout(timer);
        return resolve(hit);
      }
      if (done) {
        clearTimeout(timer);
        return reject(new Error(`the daemon exited before a line matching ${re}; stderr:\n${lines.join('\n')}${partial}`));
      }
      waiters.push(look);
    };
    look();
  });
  let port: number;
  try {
    const line = await waitForLine(/listening on /, o.limitMs ?? 15_000);
    port = Number(/:(\d+),/.exec(line)![1]);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    child, port, dir, configPath, lines, waitForLine, writeConfig,
    get: (path, method = 'GET') => request(port, path, method),
    rssKb() {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : NaN;
    },
    async stop(signal = 'SIGTERM') {
      const start = performance.now();
      if (!done) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
      return { ...r, ms: performance.now() - start };
    },
  };
}

/** A config of targets at host:port pairs, the monitor login, TLS off (the simulators have no certificate). */
export function configFor(targets: Record<string, { host?: string; port: number; extra?: string }>, defaults = ''): string {
  return [`user = monitor\npassword = ${MONITOR_PASSWORD}\ndatabase = appdb\nencrypt = off\nlisten = 127.0.0.1:0\n${defaults}`,
    ...Object.entries(targets).map(([name, t]) => `[${name}]\nhost = ${t.host ?? '127.0.0.1'}\nport = ${t.port}\n${t.extra ?? ''}`)].join('\n');
}

/** Poll GET path until its status is `status`; resolves to the ms it took. */
export async function waitForStatus(d: ServeProcess, path: string, status: number, limitMs: number): Promise<number> {
  const start = performance.now();
  let last: Reply | undefined;
  for (;;) {
    last = await d.get(path);
    if (last.status === status) return performance.now() - start;
    if (performance.now() - start > limitMs) throw new Error(`${path}: still ${last.status} after ${limitMs} ms (wanted ${status}): ${last.text.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Wait until every named target has completed a poll (GET /TARGET shows an age). */
export async function waitForPolls(d: ServeProcess, targets: string[], limitMs = 10_000): Promise<void> {
  const start = performance.now();
  for (const t of targets) {
    for (;;) {
      const r = await d.get(`/${t}`);
      if (r.status === 200 && r.json?.ageSeconds !== null && r.json?.ageSeconds !== undefined) break;
      if (performance.now() - start > limitMs) throw new Error(`target ${t} has not completed a poll within ${limitMs} ms: ${r.text.slice(0, 300)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}
