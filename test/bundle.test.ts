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
import { ROOT, NODE } from './helpers/paths.ts';

const require = createRequire(import.meta.url);
type Factory<A extends unknown[]> = (...args: A) => Record<string, unknown>;
const leftOut = require(join(ROOT, 'build/shims/left-out.cjs')) as Factory<[string, string]>;
const lazyModule = require(join(ROOT, 'build/shims/lazy-module.cjs')) as Factory<[() => object]>;
const lazyJsJoda = require(join(ROOT, 'build/shims/js-joda-lazy.cjs')) as Factory<[() => object]>;
const { leversPlugin } = require(join(ROOT, 'build/levers.mjs')) as { leversPlugin: () => unknown };
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

test('lazy js-joda counts days exactly as js-joda does, and loads it only when used', () => {
  const joda = require('@js-joda/core') as {
    LocalDate: { of(y: number, m: number, d: number): unknown; ofYearDay(y: number, d: number): { until(e: unknown, u: unknown): number } };
    ChronoUnit: { DAYS: unknown };
  };
  let loads = 0;
  const lazy = lazyJsJoda(() => (loads++, joda)) as unknown as typeof joda;
  // tedious's data types compute these epochs when they load.
  const epochs = [[1, 1], [1900, 1]].map(([y, d]) => [lazy.LocalDate.ofYearDay(y, d), joda.LocalDate.ofYearDay(y, d)] as const);
  assert.equal(loads, 0, 'making the epochs must not load js-joda');
  const dates = [[1, 1, 1], [1752, 9, 14], [1899, 12, 31], [1900, 1, 1], [1900, 3, 1], [2000, 2, 29], [2038, 1, 19], [9999, 12, 31]];
  for (let y = 1; y <= 9999; y += 97) dates.push([y, 1 + (y % 12), 1 + (y % 28)]);
  for (const [y, m, d] of dates) {
    for (const [mine, theirs] of epochs) {
      assert.equal(mine.until(lazy.LocalDate.of(y, m, d), lazy.ChronoUnit.DAYS),
        theirs.until(joda.LocalDate.of(y, m, d), joda.ChronoUnit.DAYS), `${y}-${m}-${d}`);
    }
  }
  assert.equal(loads, 1);
});

test('iconv-lite and bl, bundled with the levers, give what the packages give unbundled', async () => {
  // Decodes varchar bytes as tedious does (a Western and an East Asian code page) and joins
  // buffers through bl's Duplex (what tedious uses), then prints what it got; run bundled and unbundled.
  const probe = `
    const iconv = require('iconv-lite');
    const BufferListStream = require('bl');
    const bl = new BufferListStream();
    bl.append(Buffer.from('ab')); bl.append(Buffer.from('cd'));
    const out = [
      iconv.decode(Buffer.from([0x80, 0x41, 0xe9, 0x9f]), 'CP1252'),
      iconv.decode(Buffer.from([0xc4, 0xe3, 0xba, 0xc3]), 'cp936'),
      iconv.encode('été', 'CP1252').toString('hex'),
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
    const run = (file: string) => spawnSync(NODE, [file], { encoding: 'utf8', cwd: ROOT, env: { NODE_PATH: join(ROOT, 'node_modules') }, timeout: 20_000 });
    const bundled = run(join(dir, 'bundled.cjs'));
    const plain = run(join(dir, 'probe.cjs'));
    assert.equal(bundled.status, 0, bundled.stderr);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(bundled.stdout, plain.stdout);
    assert.deepEqual(JSON.parse(bundled.stdout), ['€AéŸ', '你好', 'e974e9', 'bc', 4, 'function']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the built bundle holds none of the left-out packages and still holds tedious', () => {
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
  const files = Object.keys(meta.inputs);
  const stray = files.filter((f) => /node_modules\/(@azure\/|@typespec\/|jsonwebtoken\/|open\/|https?-proxy-agent\/|readable-stream\/|safer-buffer\/)/.test(f));
  assert.deepEqual(stray, []);
  assert.ok(files.some((f) => f.includes('node_modules/tedious/lib/connection.js')), 'tedious is bundled');
  assert.ok(files.includes('lever:left-out:@azure/identity'), 'the @azure/identity stub is bundled');
  const bundle = readFileSync(join(ROOT, 'dist/mssql-role-check.cjs'), 'utf8');
  assert.match(bundle, /is not included in mssql-role-check/);
});
