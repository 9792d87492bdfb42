// What the benchmark scripts share: measuring commands (bench/measure.py), a simulated SQL
// Server in a process of its own, the same-way-packed hello world, and figures.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, statSync, readFileSync, mkdirSync, rmSync, chmodSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const NODE = process.execPath;
export const PYTHON = '/usr/bin/python3'; // Debian's, the one python3-pymssql is installed for
/** What keepalived gives the checks it runs: next to nothing. */
export const CLEAN_ENV = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };

export interface Case {
  name: string;
  argv: string[];
  env?: Record<string, string>;
  stdin?: string;
  /** expected exit status (default 0): a run that ends otherwise stops the bench */
  expect?: number;
}

export interface Run {
  wall_ms: number;
  cpu_ms: number;
  rss_kb: number;
  status: number;
}

/** Runs every case `runs` times, interleaved, after `warmup` unrecorded rounds. */
export function measure(cases: Case[], runs: number, warmup = 2): Record<string, Run[]> {
  const spec = JSON.stringify({ runs, warmup, cases: cases.map((c) => ({ env: CLEAN_ENV, ...c })) });
  const r = spawnSync(PYTHON, [join(ROOT, 'bench/measure.py')], { input: spec, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`measure.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, Run[]>;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
}

export interface Summary {
  wall: Spread;
  cpu: Spread;
  rssMb: Spread;
}

export function summarize(runs: Run[]): Summary {
  return {
    wall: spread(runs.map((r) => r.wall_ms)),
    cpu: spread(runs.map((r) => r.cpu_ms)),
    rssMb: spread(runs.map((r) => r.rss_kb / 1024)),
  };
}

const f1 = (n: number) => n.toFixed(1);
export const fmtSpread = (s: Spread) => `${f1(s.min)} / ${f1(s.median)} / ${f1(s.max)}`;

/** A Markdown table of min / median / max per case. */
export function table(rows: { label: string; summary: Summary }[]): string {
  const lines = [
    '| case | wall ms (min / median / max) | CPU ms user+sys (min / median / max) | peak RSS MB (min / median / max) |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const { label, summary: s } of rows) lines.push(`| ${label} | ${fmtSpread(s.wall)} | ${fmtSpread(s.cpu)} | ${fmtSpread(s.rssMb)} |`);
  return lines.join('\n');
}

/**
 * A copy of a binary that is read back from disk when it runs, as after a reboot; returns its
 * path. A binary just written by the build sits in the page cache as large folios, and mapping
 * those makes a process's RSS ~17 MB larger than the same binary read from disk (measured on
 * Linux 6.18). The original cannot always be dropped from the page cache (pages mapped by a
 * running process stay), a copy that only the bench runs can.
 */
export function coldCopy(file: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, `cold-${basename(file)}`);
  rmSync(copy, { force: true });
  execFileSync('dd', [`if=${file}`, `of=${copy}`, 'bs=4M', 'conv=fsync', 'oflag=nocache', 'status=none']);
  execFileSync('dd', [`if=${copy}`, 'iflag=nocache', 'count=0', 'status=none']);
  chmodSync(copy, 0o755);
  return copy;
}

const stale = (target: string, sources: string[]) =>
  !existsSync(target) || sources.some((s) => statSync(s).mtimeMs > statSync(target).mtimeMs);

/**
 * A script of bench/ packed exactly as the product is (build/pack.sh), for x64: hello.cjs is the
 * floor. A .ts script (one that uses the product's code) is bundled with esbuild first.
 */
export function packedScript(name: 'hello' | 'tds-replay' | 'hello-deadline'): string {
  const out = join(ROOT, `dist/bench/${name}-linux-x64`);
  const ts = name === 'hello-deadline';
  const sources = [`bench/${name}.${ts ? 'ts' : 'cjs'}`, ...(ts ? ['src/watchdog.ts'] : []), 'build/pack.sh', 'build/sea-pack.mjs', 'build/toolchain.env']
    .map((f) => join(ROOT, f));
  const script = sources[0];
  if (stale(out, sources)) {
    mkdirSync(join(ROOT, 'dist/bench'), { recursive: true });
    let input = script;
    if (ts) {
      input = join(ROOT, `dist/bench/${name}.cjs`);
      execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), [script, '--bundle', '--platform=node', '--target=node24', '--format=cjs',
        `--outfile=${input}`, '--log-level=warning'], { stdio: 'inherit' });
    }
    execFileSync(join(ROOT, 'build/pack.sh'), [input, join(ROOT, `dist/bench/${name}`), '--arch=x64'], { stdio: 'inherit' });
  }
  return out;
}

export interface SimStats {
  connections: number;
  logins: number;
  loginFailures: number;
  batches: number;
  rpcs: number;
  tlsHandshakes: number;
  packetsIn: number;
  /** client messages (a message may span packets); each gets one answer */
  messagesIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface Sim {
  host: string;
  port: number;
  stats(): Promise<SimStats>;
  stop(): Promise<void>;
}

/** sqlsim (test/sqlsim/cli.ts) in a process of its own, controlled over its stdin. */
export async function startSim(scenario: string, extra: string[] = []): Promise<Sim> {
  const child = spawn(NODE, [join(ROOT, 'test/sqlsim/cli.ts'), '--scenario', scenario, '--control', 'stdin', ...extra], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (line) => (waiting.length ? waiting.shift()!(line) : early.push(line)));
  const next = (what: string) => new Promise<string>((resolve, reject) => {
    if (early.length) return resolve(early.shift()!);
    const timer = setTimeout(() => reject(new Error(`sqlsim: no answer to ${what} within 20 s`)), 20_000);
    waiting.push((line) => (clearTimeout(timer), resolve(line)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w(`error sqlsim exited (${code})`);
  });
  const ready = await next('start');
  const m = /^listening (\S+):(\d+)$/.exec(ready);
  if (!m) {
    child.kill();
    throw new Error(`sqlsim did not start: ${ready}`);
  }
  return {
    host: m[1],
    port: Number(m[2]),
    async stats() {
      child.stdin!.write('status\n');
      const answer = await next('status');
      if (!answer.startsWith('ok ')) throw new Error(`sqlsim status: ${answer}`);
      return (JSON.parse(answer.slice(3)) as SimStats[])[0];
    },
    async stop() {
      child.stdin!.end('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The difference b - a of every counter. */
export function statsDelta(a: SimStats, b: SimStats): SimStats {
  const d = {} as Record<string, number>;
  for (const k of Object.keys(b) as (keyof SimStats)[]) if (typeof b[k] === 'number') d[k] = b[k] - (a[k] ?? 0);
  return d as unknown as SimStats;
}

export function machine(): string {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  return `${nproc} × ${model}, Linux ${kernel}`;
}
