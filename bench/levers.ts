// Each start-up lever measured on its own: the x64 binary is built again with the levers switched
// on one after the other (build/bundle.mjs --without=..., build/pack.sh --code-cache=...), and
// every build runs a full check against sqlsim and --version, N times, interleaved. Also the
// levers tried and not kept: minify, a startup snapshot, a stripped Node. bench/LEVERS.md has the
// figures of a run and what was decided.
//
// usage: node bench/levers.ts [--runs N] [--rows NAME,...]   (builds into dist/bench/levers/; ~4 minutes)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, NODE, measure, summarize, coldCopy, packedScript, startSim, machine, type Case, type Summary } from './lib.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: process.env.N || '20' }, rows: { type: 'string' } } });
const runs = Number(values.runs);
const OUT = join(ROOT, 'dist/bench/levers');
const NODE_VERSION = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(ROOT, 'build/toolchain.env'), 'utf8'))![1];

interface Variant {
  name: string;
  what: string;
  without: string[];
  codeCache: boolean;
  extra?: string[]; // bundle.mjs options
  snapshot?: boolean;
  strip?: boolean;
}

const ALL = ['leave-out', 'lazy', 'trim', 'native', 'split', 'warm', 'iconv', 'one-batch', 'warm-main', 'iconv-apart'];
const but = (...kept: string[]) => ALL.filter((l) => !kept.includes(l));
// Cumulative: each row adds one lever to the row above.
const ALL_VARIANTS: Variant[] = [
  { name: 'none', what: 'no lever: one bundle, no code cache', without: ALL, codeCache: false },
  { name: 'leave-out', what: '+ Azure AD / Key Vault packages left out', without: but('leave-out'), codeCache: false },
  { name: 'lazy', what: '+ tls, dgram, dns, util, crypto (but randomBytes) loaded on first use', without: but('leave-out', 'lazy'), codeCache: false },
  { name: 'trim', what: '+ js-joda replaced by the calls tedious makes', without: but('leave-out', 'lazy', 'trim'), codeCache: false },
  { name: 'native', what: '+ Node\'s stream and Buffer for bl and iconv-lite', without: but('leave-out', 'lazy', 'trim', 'native'), codeCache: false },
  { name: 'code-cache', what: '+ SEA code cache (useCodeCache)', without: but('leave-out', 'lazy', 'trim', 'native'), codeCache: true },
  { name: 'split', what: '+ driver in a chunk loaded only by a check', without: ['warm', 'iconv', 'one-batch', 'warm-main', 'iconv-apart'], codeCache: true },
  { name: 'warm', what: '+ chunk code cache from a check run at build time', without: ['iconv', 'one-batch', 'warm-main', 'iconv-apart'], codeCache: true },
  { name: 'iconv', what: '+ iconv-lite loaded on first use', without: ['one-batch', 'warm-main', 'iconv-apart'], codeCache: true },
  { name: 'one-batch', what: '+ no SET-options batch after the login (one round trip less)', without: ['warm-main', 'iconv-apart'], codeCache: true },
  { name: 'warm-main', what: '+ command line\'s code cache from the same run', without: ['iconv-apart'], codeCache: true },
  { name: 'iconv-apart', what: '+ iconv-lite in a chunk of its own (shipped)', without: [], codeCache: true },
  // Tried, not kept:
  { name: 'minify', what: '"code-cache" row, minified', without: but('leave-out', 'lazy', 'trim', 'native'), codeCache: true, extra: ['--minify'] },
  { name: 'snapshot', what: '"native" row, startup snapshot with tedious loaded', without: but('leave-out', 'lazy', 'trim', 'native'), codeCache: false, extra: ['--entry=bench/snapshot-entry.cjs'], snapshot: true },
  { name: 'strip', what: 'shipped, with a stripped Node', without: [], codeCache: true, strip: true },
];

/** The shipped packing with a stripped copy of the x64 Node (strip cannot run on the packed binary: it drops the SEA blob). */
function packStripped(dir: string): void {
  const node = join(ROOT, `.cache/node/node-v${NODE_VERSION}-linux-x64/bin/node`);
  const stripped = join(dir, 'node-stripped');
  execFileSync('strip', ['-o', stripped, node]);
  execFileSync(join(ROOT, 'build/pack.sh'), [join(dir, 'mssql-role-check.cjs'), join(dir, 'b'), '--arch=x64', `--node=${stripped}`], { stdio: 'inherit' });
  rmSync(stripped);
}

async function buildVariant(v: Variant): Promise<{ binary: string; bundleBytes: number }> {
  const dir = join(OUT, v.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, 'mssql-role-check.cjs');
  execFileSync(NODE, [join(ROOT, 'build/bundle.mjs'), bundle, ...(v.without.length ? [`--without=${v.without.join(',')}`] : []), ...(v.extra ?? [])], { stdio: 'inherit', cwd: ROOT });
  if (v.strip) {
    packStripped(dir);
  } else {
    execFileSync(join(ROOT, 'build/pack.sh'), [bundle, join(dir, 'b'), '--arch=x64', `--code-cache=${v.codeCache ? 'x64' : 'none'}`, ...(v.snapshot ? ['--snapshot'] : [])], { stdio: 'inherit' });
  }
  const chunk = join(dir, 'mssql-role-check.probe.cjs');
  const bundleBytes = statSync(bundle).size + (existsSync(chunk) ? statSync(chunk).size : 0);
  return { binary: join(dir, 'b-linux-x64'), bundleBytes };
}

// --rows a,b,...: only these rows (a quicker comparison while trying a lever)
const rows = values.rows?.split(',');
for (const r of rows ?? []) if (!ALL_VARIANTS.some((v) => v.name === r)) throw new Error(`--rows: no row ${r}`);
const VARIANTS = rows ? ALL_VARIANTS.filter((v) => rows.includes(v.name)) : ALL_VARIANTS;

const built: Record<string, { binary: string; bundleBytes: number }> = {};
for (const v of VARIANTS) {
  process.stderr.write(`levers: building ${v.name}\n`);
  built[v.name] = await buildVariant(v);
}
const hello = coldCopy(packedScript('hello'), OUT);

const sim = await startSim('principal');
const tmp = mkdtempSync(join(tmpdir(), 'levers-'));
const copies: string[] = [hello]; // ~120 MB each, only for measuring
try {
  const scenario = JSON.parse(readFileSync(join(ROOT, 'test/sqlsim/scenarios/principal.json'), 'utf8')) as { logins: { name: string; password: string }[] };
  const passwordFile = join(tmp, 'password');
  writeFileSync(passwordFile, scenario.logins.find((l) => l.name === 'monitor')!.password + '\n', { mode: 0o600 });
  const cases: Case[] = [{ name: 'floor', argv: [hello] }];
  for (const v of VARIANTS) {
    const bin = coldCopy(built[v.name].binary, join(OUT, v.name));
    copies.push(bin);
    cases.push({ name: `${v.name}/check`, argv: [bin, '--host', sim.host, '--port', String(sim.port), '--user', 'monitor', '--password-file', passwordFile, '--database', 'appdb'] });
    cases.push({ name: `${v.name}/version`, argv: [bin, '--version'] });
  }
  process.stderr.write(`levers: ${runs} runs of ${cases.length} cases, interleaved...\n`);
  const s = Object.fromEntries(Object.entries(measure(cases, runs)).map(([k, r]) => [k, summarize(r)])) as Record<string, Summary>;

  const m = (x: number) => x.toFixed(1);
  const lines = [
    `levers — ${new Date().toISOString().slice(0, 10)}, ${machine()}, N=${runs}, medians (floor: packed hello world ${m(s.floor.wall.median)} ms wall, ${m(s.floor.cpu.median)} ms CPU, ${m(s.floor.rssMb.median)} MB)`,
    '',
    '| build | what | JS a check loads, KB | binary MiB | check wall ms | check CPU ms | check RSS MB | --version wall ms | --version CPU ms | --version RSS MB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const v of VARIANTS) {
    const c = s[`${v.name}/check`];
    const ver = s[`${v.name}/version`];
    lines.push(`| ${v.name} | ${v.what} | ${Math.round(built[v.name].bundleBytes / 1024)} | ${m(statSync(built[v.name].binary).size / 2 ** 20)} | ${m(c.wall.median)} | ${m(c.cpu.median)} | ${m(c.rssMb.median)} | ${m(ver.wall.median)} | ${m(ver.cpu.median)} | ${m(ver.rssMb.median)} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await sim.stop();
  rmSync(tmp, { recursive: true, force: true });
  for (const copy of copies) rmSync(copy, { force: true });
}

