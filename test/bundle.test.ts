// The start-up levers of the bundle (build/bundle.mjs): packages left out fail loudly if ever
// reached, lazy modules behave like the real ones, and the built bundle holds none of the
// left-out packages. Their timings are measured by `make bench`, not here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { ROOT, NODE } from './helpers/paths.ts';
import { factsSql } from '../src/prober/facts-query.ts';

const require = createRequire(import.meta.url);
type Factory<A extends unknown[]> = (...args: A) => Record<string, unknown>;
const leftOut = require(join(ROOT, 'build/shims/left-out.cjs')) as Factory<[string, string]>;
const lazyModule = require(join(ROOT, 'build/shims/lazy-module.cjs')) as Factory<[() => object, string[]?]>;
const lazyCrypto = require(join(ROOT, 'build/shims/crypto-lazy.cjs')) as Factory<[() => object]>;
const { leversPlugin, SKIP_INITIAL_SQL } = require(join(ROOT, 'build/levers.mjs')) as { leversPlugin: () => unknown; SKIP_INITIAL_SQL: { line: string } };
const esbuild = require('esbuild') as { build: (o: object) => Promise<{ metafile: { inputs: Record<string, unknown> } }> };

// What Babel's compiled CommonJS in tedious does with a required module.
const interopDefault = (m: Record<string, unknown>) => (m && m.__esModule ? m : { default: m });
function interopWildcard(m: Record<string, unknown>): Record<string, unknown> {
  if (m && m.__esModule) return m;
  const copy: Record<string, unknown> = { default: m };
  for (const k in m) if (k !== 'default') copy[k] = m[k];
  return copy;
}

test('a left-out package throws one clear error when any of it is used', () => {
  const identity = leftOut('@azure/identity', 'Azure Active Directory authentication');
  const message = { message: 'Azure Active Directory authentication (@azure/identity) is not included in mssql-role-check' };
  const Credential = identity.DefaultAzureCredential as new () => unknown;
  assert.throws(() => new Credential(), message);
  assert.throws(() => (identity.isTokenCredential as () => unknown)(), message);
  // Interop helpers and await look for these: they must see "absent", not throw.
  assert.equal(identity.__esModule, undefined);
  assert.equal(identity.then, undefined);
  assert.equal(interopDefault(identity).default, identity);
});

test('a lazy module loads on first use, once, and answers like the module itself', () => {
  let loads = 0;
  const real = { connect: (x: number) => x + 1, createSecureContext: () => 'ctx', VERSION: 3 };
  const lazy = lazyModule(() => (loads++, real));
  const wildcard = interopWildcard(lazy);
  const viaDefault = interopDefault(lazy).default as Record<string, unknown>;
  assert.equal(loads, 0, 'the interop helpers must not load the module');
  assert.equal((wildcard.connect as (x: number) => number)(1), 2);
  assert.equal(loads, 1);
  assert.equal(viaDefault.createSecureContext, real.createSecureContext);
  assert.equal(wildcard.VERSION, 3);
  assert.equal(loads, 1, 'loaded once');
});

test('a lazy module\'s call-later function is read without loading the module, and loads it when called', () => {
  let loads = 0;
  const real = { lookup(this: unknown, name: string) { return [this, name]; }, other: 1 };
  const lazy = lazyModule(() => (loads++, real), ['lookup']);
  const lookup = (interopDefault(lazy).default as typeof real).lookup; // as tedious reads dns.lookup
  assert.equal(typeof lookup, 'function');
  assert.equal(loads, 0, 'reading it must not load the module');
  const self = {};
  assert.deepEqual(lookup.call(self, 'db1'), [self, 'db1'], 'called with its arguments and this');
  assert.equal(loads, 1);
  assert.equal(lazy.lookup, real.lookup, 'once loaded, the real member');
  assert.equal(lazy.other, 1);
  assert.equal(loads, 1, 'loaded once');
});

test('lazy crypto: randomBytes from /dev/urandom without loading node:crypto, the rest from node:crypto', async () => {
  let loads = 0;
  const lazy = lazyCrypto(() => (loads++, crypto)) as unknown as typeof crypto & { default: typeof crypto };
  const a = lazy.randomBytes(16);
  const b = lazy.default.randomBytes(16); // as tedious's connection.js reaches it
  assert.ok(Buffer.isBuffer(a) && a.length === 16 && b.length === 16);
  assert.notDeepEqual(a, b);
  assert.equal(lazy.randomBytes(0).length, 0);
  assert.equal(loads, 0, 'randomBytes must not load node:crypto');
  // Bad sizes fail as node:crypto fails them.
  assert.throws(() => lazy.randomBytes(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.equal(loads, 1);
  const hmac = lazy.createHmac('md5', 'k').update('data').digest('hex');
  assert.equal(hmac, crypto.createHmac('md5', 'k').update('data').digest('hex'));
  const viaCallback = await new Promise<Buffer>((resolve, reject) => lazy.randomBytes(8, (err, buf) => (err ? reject(err) : resolve(buf))));
  assert.equal(viaCallback.length, 8);
  assert.equal(loads, 1, 'loaded once');
});

test('loading the probe chunk loads neither node:crypto, node:tls, node:dns nor the iconv-lite chunk', () => {
  const r = spawnSync(NODE, ['-e', `
    const compiled = [];
    const vm = require('node:vm');
    vm.Script = class extends vm.Script { constructor(c, o) { super(c, o); compiled.push(o.filename); } };
    const before = new Set(process.moduleLoadList); // node -e itself loads node:crypto
    require(${JSON.stringify(join(ROOT, 'build/shims/chunk.cjs'))})('mssql-role-check.probe.cjs', ${JSON.stringify(join(ROOT, 'dist'))});
    const loaded = process.moduleLoadList.filter((m) => !before.has(m));
    if (!loaded.includes('NativeModule net')) throw new Error('the chunk did not load: ' + loaded);
    if (compiled.join() !== 'mssql-role-check.probe.cjs') throw new Error('compiled: ' + compiled);
    process.stdout.write(JSON.stringify(loaded.filter((m) => /^NativeModule (crypto|tls|_tls_wrap|dgram|dns|dns\\/promises)$/.test(m))));`],
  { encoding: 'utf8', env: {}, timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});

test('no bundle calls import(): chunk.cjs compiles them with vm.Script, which has no dynamic-import callback', () => {
  for (const file of ['mssql-role-check.cjs', 'mssql-role-check.probe.cjs', 'mssql-role-check.iconv.cjs', 'mssql-role-check.loader.cjs', 'mssql-role-check.serve.cjs']) {
    const calls = readFileSync(join(ROOT, 'dist', file), 'latin1').match(/(?<![\w$.])import\s*\([^)]{0,60}/g) ?? [];
    assert.deepEqual(calls, [], `${file} loads modules with import() (use process.getBuiltinModule or require)`);
  }
});

test('the js-joda stand-in counts days exactly as js-joda does, and refuses what js-joda refuses', () => {
  interface Joda {
    LocalDate: { of(y: number, m: number, d: number): unknown; ofYearDay(y: number, d: number): { until(e: unknown, u: unknown): number } };
    ChronoUnit: { DAYS: unknown };
  }
  const joda = require('@js-joda/core') as Joda;
  const mini = require(join(ROOT, 'build/shims/js-joda-mini.cjs')) as Joda;
  // tedious's epochs (date/datetime2/datetimeoffset: 0001-01-01; datetime: 1900-01-01), and days
  // that stress the calendar: month ends, leap days, century years, before 1970 and far after.
  const epochs = [[1, 1], [1900, 1], [1970, 1], [2000, 60], [-1, 365]];
  const dates: number[][] = [[1, 1, 1], [1582, 10, 4], [1582, 10, 15], [1752, 9, 14], [1899, 12, 31], [1900, 2, 28], [1900, 3, 1],
    [1969, 12, 31], [1970, 1, 1], [2000, 2, 29], [2038, 1, 19], [2100, 3, 1], [9999, 12, 31], [0, 2, 29], [-400, 3, 1], [100000, 6, 15]];
  for (let y = 1; y <= 9999; y += 7) for (const [m, d] of [[1, 1], [2, 28], [3, 1], [12, 31]]) dates.push([y, m, d]);
  for (let y = 1896; y <= 2104; y++) dates.push([y, 2, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28]);
  let compared = 0;
  for (const [ey, ed] of epochs) {
    const mine = mini.LocalDate.ofYearDay(ey, ed);
    const theirs = joda.LocalDate.ofYearDay(ey, ed);
    for (const [y, m, d] of dates) {
      assert.equal(mine.until(mini.LocalDate.of(y, m, d), mini.ChronoUnit.DAYS),
        theirs.until(joda.LocalDate.of(y, m, d), joda.ChronoUnit.DAYS), `${ey}/${ed} until ${y}-${m}-${d}`);
      compared++;
    }
  }
  assert.ok(compared > 20000, `compared ${compared} pairs`);
  for (const [y, m, d] of [[2023, 2, 29], [1900, 2, 29], [2024, 13, 1], [2024, 0, 10], [2024, 4, 31], [NaN, 1, 1], [2024.5, 1, 1]]) {
    assert.throws(() => joda.LocalDate.of(y, m, d), Error, `js-joda refuses ${y}-${m}-${d}`);
    assert.throws(() => mini.LocalDate.of(y, m, d), RangeError, `the stand-in refuses ${y}-${m}-${d}`);
  }
  assert.throws(() => mini.LocalDate.ofYearDay(2023, 366), RangeError);
  assert.equal(mini.LocalDate.ofYearDay(2024, 366).until(mini.LocalDate.of(2025, 1, 1), mini.ChronoUnit.DAYS), 1);
});

test('tedious\'s date types, iconv-lite and bl, bundled with the levers, give what they give unbundled', async () => {
  // Encodes date parameters as tedious does (through js-joda, or its stand-in when bundled),
  // decodes varchar bytes (a Western and an East Asian code page), joins buffers through bl's
  // Duplex (what tedious uses), then prints what it got; run bundled and unbundled.
  const probe = `
    const iconv = require('iconv-lite');
    const BufferListStream = require('bl');
    const bl = new BufferListStream();
    bl.append(Buffer.from('ab')); bl.append(Buffer.from('cd'));
    const { TYPES } = require('tedious');
    const common = ['1900-01-01T00:00:00Z', '1953-07-15T08:30:00Z', '2000-02-29T23:59:29Z', '2024-02-29T12:00:00.003Z', '2079-06-06T23:59:00Z'];
    const wide = [...common, '0001-01-01T00:00:00Z', '1582-10-15T00:00:00Z', '9999-12-31T23:59:59.999Z'];
    const ranges = { Date: wide, DateTime2: wide, DateTimeOffset: wide, DateTime: [...common, '1753-01-01T00:00:00Z', '9999-12-31T23:59:59Z'], SmallDateTime: common };
    const encoded = Object.entries(ranges).flatMap(([type, isos]) => isos.map((iso) =>
      Buffer.concat([...TYPES[type].generateParameterData({ value: new Date(iso), scale: 7 }, { useUTC: true })]).toString('hex')));
    const out = [
      encoded.join(' '),
      iconv.decode(Buffer.from([0x80, 0x41, 0xe9, 0x9f]), 'CP1252'),
      iconv.decode(Buffer.from([0xc4, 0xe3, 0xba, 0xc3]), 'cp936'),
      iconv.encode('été', 'CP1252').toString('hex'),
      TYPES.VarChar.validate('été', { codepage: 'CP1252' }).toString('hex'), // tedious's own iconv-lite (lazy when bundled)
      bl.slice(1, 3).toString(), bl.length, typeof bl.pipe,
    ];
    process.stdout.write(JSON.stringify(out));`;
  const dir = mkdtempSync(join(tmpdir(), 'levers-'));
  try {
    writeFileSync(join(dir, 'probe.cjs'), probe);
    const result = await esbuild.build({
      entryPoints: [join(dir, 'probe.cjs')], outfile: join(dir, 'bundled.cjs'), bundle: true, platform: 'node',
      format: 'cjs', logLevel: 'error', metafile: true, nodePaths: [join(ROOT, 'node_modules')], plugins: [leversPlugin()],
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.includes('lever:native:safer-buffer'), 'safer-buffer was replaced');
    assert.ok(!inputs.some((f) => f.includes('node_modules/readable-stream/')), 'readable-stream was replaced');
    assert.ok(!inputs.some((f) => f.includes('node_modules/@js-joda/')), 'js-joda was replaced');
    assert.ok(inputs.includes('build/shims/js-joda-mini.cjs'), 'by its stand-in');
    const run = (file: string) => spawnSync(NODE, [file], { encoding: 'utf8', cwd: ROOT, env: { NODE_PATH: join(ROOT, 'node_modules') }, timeout: 20_000 });
    const bundled = run(join(dir, 'bundled.cjs'));
    const plain = run(join(dir, 'probe.cjs'));
    assert.equal(bundled.status, 0, bundled.stderr);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(bundled.stdout, plain.stdout);
    const [encoded, ...rest] = JSON.parse(bundled.stdout) as unknown[];
    assert.equal((encoded as string).split(' ').length, 36);
    assert.deepEqual(rest, ['€AéŸ', '你好', 'e974e9', 'e974e9', 'bc', 4, 'function']);
    assert.ok(inputs.includes('lever:lazy:iconv-lite'), 'tedious\'s iconv-lite was made lazy');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the built bundles hold none of the left-out packages; the driver is only in the probe chunk', () => {
  type Meta = { inputs: Record<string, unknown>; outputs: Record<string, { inputs: Record<string, unknown> }> };
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as Meta;
  const files = Object.keys(meta.inputs);
  const stray = files.filter((f) => /node_modules\/(@azure\/|@typespec\/|jsonwebtoken\/|open\/|https?-proxy-agent\/|readable-stream\/|safer-buffer\/)/.test(f));
  assert.deepEqual(stray, []);
  assert.ok(files.includes('lever:left-out:@azure/identity'), 'the @azure/identity stub is bundled');
  const byOutput = (name: string) => Object.keys(Object.entries(meta.outputs).find(([o]) => o.endsWith(name))![1].inputs);
  assert.ok(byOutput('dist/mssql-role-check.probe.cjs').includes('node_modules/tedious/lib/connection.js'), 'tedious is in the probe chunk');
  assert.deepEqual(byOutput('dist/mssql-role-check.cjs').filter((f) => f.includes('node_modules/tedious/')), [], 'tedious is not in the main bundle');
  assert.match(readFileSync(join(ROOT, 'dist/mssql-role-check.probe.cjs'), 'utf8'), /is not included in mssql-role-check/);
});

test('the daemon is a chunk of its own: src/serve and prom-client only there, the driver only in the probe chunk; a check never reads it', () => {
  type Meta = { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as Meta;
  const inputs = (name: string) => Object.keys(Object.entries(meta.outputs).find(([o]) => o.endsWith(name))![1].inputs);
  const main = inputs('dist/mssql-role-check.cjs');
  const serve = inputs('dist/mssql-role-check.serve.cjs');
  assert.deepEqual(main.filter((f) => f.startsWith('src/serve/') || f.includes('node_modules/prom-client/')), [], 'the command line holds none of the daemon');
  assert.ok(serve.includes('src/serve/daemon.ts') && serve.some((f) => f.includes('node_modules/prom-client/')), 'the serve chunk holds the daemon and prom-client');
  assert.deepEqual(serve.filter((f) => f.includes('node_modules/tedious/') || f.startsWith('src/prober/connection')), [], 'the serve chunk takes the driver from the probe chunk');
  // The command line stays what it was: a few lines of dispatch more (84 198 bytes before serve).
  const size = readFileSync(join(ROOT, 'dist/mssql-role-check.cjs')).length;
  assert.ok(size < 84_198 + 2_000, `the command line is ${size} bytes`);
  // A check (here one refused at once) compiles the command line and the probe chunk, never the serve chunk.
  const watch = (argv: string[], env: Record<string, string> = {}) => spawnSync(NODE, ['-e', `
    const vm = require('node:vm');
    const compiled = [];
    vm.Script = class extends vm.Script { constructor(c, o) { super(c, o); compiled.push(o.filename); } };
    process.on('exit', () => process.stderr.write('\\n' + JSON.stringify(compiled) + '\\n'));
    process.argv = [process.execPath, 'x', ...${JSON.stringify(argv)}];
    require(${JSON.stringify(join(ROOT, 'build/shims/chunk.cjs'))})('mssql-role-check.cjs', ${JSON.stringify(join(ROOT, 'dist'))});`],
  { encoding: 'utf8', env, timeout: 20_000 });
  const check = watch(['--host', '127.0.0.1', '--port', '9', '--user', 'u', '--database', 'd', '--encrypt', 'off', '--timeout', '2'], { MSSQL_PASSWORD: 'x' });
  assert.equal(check.status, 1, check.stderr);
  assert.deepEqual(JSON.parse(check.stderr.trim().split('\n').at(-1)!), ['mssql-role-check.cjs', 'mssql-role-check.probe.cjs']);
  const serveHelp = watch(['serve', '--help']);
  assert.equal(serveHelp.status, 0, serveHelp.stderr);
  assert.deepEqual(JSON.parse(serveHelp.stderr.trim().split('\n').at(-1)!), ['mssql-role-check.cjs', 'mssql-role-check.serve.cjs', 'mssql-role-check.probe.cjs']);
  for (const arch of ['x64', 'arm64']) {
    const r = spawnSync('grep', ['-c', '-a', 'mssql_role_check_poll_duration_seconds', join(ROOT, `dist/mssql-role-check-linux-${arch}`)], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), '1', `${arch}: the binary carries the serve chunk once`);
  }
});

test('the iconv-lite chunk, loaded as the probe chunk loads it, decodes and encodes as iconv-lite does; the binaries carry it', () => {
  const loadChunk = require(join(ROOT, 'build/shims/chunk.cjs')) as (name: string, dir: string) => { decode(b: Buffer, cp: string): string; encode(s: string, cp: string): Buffer };
  const chunk = loadChunk('mssql-role-check.iconv.cjs', join(ROOT, 'dist'));
  const iconv = require('iconv-lite') as typeof chunk;
  const samples: Array<[number[], string]> = [[[0x80, 0x41, 0xe9, 0x9f], 'CP1252'], [[0xc4, 0xe3, 0xba, 0xc3], 'cp936'], [[0x82, 0xa0, 0x93, 0xfa], 'cp932'], [[0xb0, 0xa1], 'cp949'], [[0xa4, 0x40], 'cp950']];
  for (const [bytes, cp] of samples) {
    assert.equal(chunk.decode(Buffer.from(bytes), cp), iconv.decode(Buffer.from(bytes), cp), cp);
    assert.notEqual(chunk.decode(Buffer.from(bytes), cp), Buffer.from(bytes).toString('latin1'), `${cp} is really decoded`);
  }
  assert.deepEqual(chunk.encode('été', 'CP1252'), Buffer.from([0xe9, 0x74, 0xe9]));
  // Its code is in that chunk only, and both binaries hold it (an asset the probe chunk asks for by name).
  type Meta = { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as Meta;
  const withIconv = Object.entries(meta.outputs).filter(([, o]) => Object.keys(o.inputs).some((f) => f.includes('node_modules/iconv-lite/'))).map(([name]) => name);
  assert.deepEqual(withIconv, ['dist/mssql-role-check.iconv.cjs']);
  assert.match(readFileSync(join(ROOT, 'dist/mssql-role-check.probe.cjs'), 'latin1'), /mssql-role-check\.iconv\.cjs/);
  for (const arch of ['x64', 'arm64']) {
    const r = spawnSync('grep', ['-c', '-a', '"maccenteuro"', join(ROOT, `dist/mssql-role-check-linux-${arch}`)], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), '1', `${arch}: iconv-lite's code page table is in the binary once`);
  }
});

test('the code caches of the command line and of the probe chunk are ones V8 accepts, compiled as the binary compiles them', () => {
  // What build/shims/chunk.cjs does for both in the binary, watched: a rejected cache would
  // silently cost every run. The command line runs to the end of --version.
  const r = spawnSync(NODE, ['-e', `
    const vm = require('node:vm');
    const rejected = {};
    vm.Script = class extends vm.Script { constructor(c, o) { super(c, o); rejected[o.filename] = this.cachedDataRejected; } };
    const loadChunk = require(${JSON.stringify(join(ROOT, 'build/shims/chunk.cjs'))});
    const dist = ${JSON.stringify(join(ROOT, 'dist'))};
    const probe = loadChunk('mssql-role-check.probe.cjs', dist, 'mssql-role-check.probe.cache');
    process.stderr.write(JSON.stringify({ probe: typeof probe.probe }) + '\\n');
    process.on('exit', () => process.stderr.write(JSON.stringify(rejected) + '\\n'));
    process.argv = [process.execPath, 'x', '--version'];
    loadChunk('mssql-role-check.cjs', dist, 'mssql-role-check.cache');`], { encoding: 'utf8', env: {}, timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const [loaded, rejected] = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(loaded, { probe: 'function' });
  assert.deepEqual(rejected, { 'mssql-role-check.probe.cjs': false, 'mssql-role-check.cjs': false });
  assert.match(r.stdout, /^mssql-role-check \S+ \(node \S+\)\n$/);
});

test('the binary ignores NODE_OPTIONS: no other exit code, no warning, no code pulled in', () => {
  // Without execArgvExtension: 'none' Node would exit 9 on the first, warn that the code cache
  // was rejected on the second, and fail to start on the third.
  for (const options of ['--stack-size=900', '--jitless', '--require /nonexistent/x.js']) {
    const r = spawnSync(join(ROOT, 'dist/mssql-role-check-linux-x64'), ['--version'], { encoding: 'utf8', env: { NODE_OPTIONS: options }, timeout: 20_000 });
    assert.equal(r.status, 0, `NODE_OPTIONS=${options}: ${r.stderr}`);
    assert.match(r.stdout, /^mssql-role-check \S+ \(node \S+\)\n$/);
    assert.equal(r.stderr, '', `NODE_OPTIONS=${options}`);
  }
});

test('one-batch: the facts query depends on none of the SET options tedious would have sent', () => {
  // Without tedious's batch the session has the server's defaults: for a client that sets nothing
  // (LOGIN7 says ODBC off) ANSI_NULLS, QUOTED_IDENTIFIER, CONCAT_NULL_YIELDS_NULL, ANSI_WARNINGS and
  // ARITHABORT off, TEXTSIZE 4096, unless sp_configure 'user options' says otherwise. None of them
  // may change what the query returns.
  const sql = factsSql(3);
  assert.doesNotMatch(sql, /"/, 'no double quotes: QUOTED_IDENTIFIER would decide what they mean');
  assert.doesNotMatch(sql, /[=<>]\s*NULL\b|\bNULL\s*[=<>]/i, 'no comparison with a NULL literal: ANSI_NULLS would decide it');
  assert.doesNotMatch(sql, /[+/]/, 'no concatenation or arithmetic: CONCAT_NULL_YIELDS_NULL, ANSI_WARNINGS, ARITHABORT');
  assert.doesNotMatch(sql, /\b(text|ntext|image|max)\b/i, 'no LOB: TEXTSIZE would cut it');
  assert.doesNotMatch(sql, /\b(CONVERT|CAST|FORMAT|DATE\w*|GETDATE)\s*\(/i, 'no date conversion: LANGUAGE and DATEFORMAT');
  // The IF compares an int from HAS_PERMS_BY_NAME with a number (a NULL, for a permission name the
  // server does not know, is not 1 under any ANSI_NULLS: the branch without the DMVs).
  const condition = "IF HAS_PERMS_BY_NAME(NULL, NULL, N'VIEW SERVER STATE') = 1\n";
  assert.ok(sql.startsWith(condition), sql.slice(0, 80));
  // Equalities between columns and with non-NULL parameters only (the names are checked non-empty).
  // (the operands without the parentheses of a subquery around them)
  for (const m of sql.slice(condition.length).matchAll(/([^\s()]+)\s*=\s*([^\s()]+)/g)) {
    assert.match(`${m[1]} ${m[2]}`, /^(\w+\.\w+) (\w+\.\w+|\d+)$/, `a comparison of columns, or with a number: ${m[0]}`);
  }
});

test('one-batch: the built chunk no longer sends the SET-options batch', () => {
  assert.match(readFileSync(join(ROOT, 'node_modules/tedious/lib/connection.js'), 'utf8'), new RegExp(SKIP_INITIAL_SQL.line.replace(/[().]/g, '\\$&')));
  assert.doesNotMatch(readFileSync(join(ROOT, 'dist/mssql-role-check.probe.cjs'), 'utf8'), /await this\.performLoggedInSendingInitialSql\(/);
});
