// Bundle src/ for pkg's SEA mode, in four CommonJS files and two V8 code caches:
//   OUT.cjs                        the command line (src/main.ts), packed as an asset that the SEA
//                                  main script (the loader, below) runs;
//   mssql-role-check.probe.cjs     src/prober and the SQL Server driver, loaded only when a check
//                                  runs (build/shims/chunk.cjs), packed as an asset;
//   mssql-role-check.probe.cache   its V8 code cache, made by running a check (warm-caches.mjs);
//   mssql-role-check.cache         the command line's, from the same run;
//   mssql-role-check.loader.cjs    the SEA main script that runs OUT.cjs (shims/main-loader.cjs);
//   mssql-role-check.iconv.cjs     iconv-lite, which the chunk loads only if the server sends text
//                                  in a code page (never for the facts query), packed as an asset;
//   mssql-role-check.serve.cjs     src/serve and prom-client, the daemon (`mssql-role-check serve`),
//                                  loaded only for serve; it loads the probe chunk for the driver.
// and a size report per package (bundle-report.txt; esbuild's metafile bundle-meta.json).
// usage: bundle.mjs [OUT.cjs] [--without=LEVER,...] [--minify] [--entry=FILE (experiments)]
// The start-up levers are in levers.mjs (plus `split`, `warm`, `warm-main` and `iconv-apart` here);
// --without turns one off
// to measure it (bench/LEVERS.md). --minify was measured and not kept.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEVERS, MUST_NOT_BUNDLE, leversPlugin } from './levers.mjs';

const ALL_LEVERS = [...LEVERS, 'split', 'warm', 'warm-main', 'iconv-apart'];
const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const out = resolve(args.find((a) => !a.startsWith('--')) ?? 'dist/mssql-role-check.cjs');
const outDir = dirname(out);
const minify = args.includes('--minify');
const without = new Set(args.filter((a) => a.startsWith('--without=')).flatMap((a) => a.slice(10).split(',')));
const entry = args.find((a) => a.startsWith('--entry='))?.slice(8) ?? 'src/main.ts';
for (const a of args) if (a.startsWith('--') && !/^--(without|entry)=/.test(a) && a !== '--minify') throw new Error(`unknown option ${a}`);
for (const w of without) if (!ALL_LEVERS.includes(w)) throw new Error(`unknown lever ${w} (known: ${ALL_LEVERS.join(', ')})`);
const use = (lever) => !without.has(lever);
const split = use('split');
const chunkFile = join(outDir, 'mssql-role-check.probe.cjs');
const cacheFile = join(outDir, 'mssql-role-check.probe.cache');
const serveFile = join(outDir, 'mssql-role-check.serve.cjs');

/** The main bundle loads src/prober/index.ts through the chunk loader instead of holding it. */
const splitProbe = {
  name: 'split-probe',
  setup(b) {
    b.onResolve({ filter: /^\.\/prober\/index\.ts$/ }, ({ importer }) =>
      importer.endsWith('/src/run.ts') ? { path: 'probe-chunk', namespace: 'split' } : undefined);
    // the daemon's poll loop uses the same chunk (one copy of the driver)
    b.onResolve({ filter: /^\.\.\/prober\/index\.ts$/ }, ({ importer }) =>
      importer.includes('/src/serve/') ? { path: 'probe-chunk', namespace: 'split' } : undefined);
    b.onResolve({ filter: /^\.\/serve\/index\.ts$/ }, ({ importer }) =>
      importer.endsWith('/src/main.ts') ? { path: 'serve-chunk', namespace: 'split' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'split' }, ({ path }) => ({
      loader: 'js',
      resolveDir: join(root, 'build/shims'),
      contents: path === 'serve-chunk'
        ? "module.exports = require('./chunk.cjs')('mssql-role-check.serve.cjs', __dirname);"
        : "module.exports = require('./chunk.cjs')('mssql-role-check.probe.cjs', __dirname, 'mssql-role-check.probe.cache');",
    }));
  },
};

/**
 * iconv-lite (~550 KB) out of the probe chunk into a chunk of its own, loaded on first use (the
 * `iconv` lever makes tedious's use of it lazy; this takes its source out of what a check reads).
 */
const iconvApart = {
  name: 'iconv-apart',
  setup(b) {
    b.onResolve({ filter: /^iconv-lite$/ }, ({ importer }) =>
      /node_modules\/tedious\/lib\//.test(importer) ? { path: 'iconv-lite', namespace: 'iconv-apart' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'iconv-apart' }, () => ({
      loader: 'js',
      resolveDir: join(root, 'build/shims'),
      contents: "module.exports = require('./lazy-module.cjs')(() => require('./chunk.cjs')('mssql-role-check.iconv.cjs', __dirname));",
    }));
  },
};

async function bundle(entry, outfile, plugins) {
  const result = await build({
    absWorkingDir: root,
    ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { ...entry, resolveDir: root, sourcefile: 'chunk-entry.cjs' } }),
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    charset: 'ascii', // the loader reads the chunk as Latin-1
    minify,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins,
    write: false,
  });
  writeFileSync(outfile, result.outputFiles[0].text);
  return result.metafile;
}

mkdirSync(outDir, { recursive: true });
rmSync(chunkFile, { force: true });
rmSync(cacheFile, { force: true });
rmSync(serveFile, { force: true });
rmSync(join(outDir, 'mssql-role-check.cache'), { force: true });
rmSync(join(outDir, 'mssql-role-check.caches.json'), { force: true });
const metas = [await bundle(entry, out, split ? [splitProbe] : [leversPlugin(use)])];
// The SEA main script that runs OUT.cjs from an asset with its warm cache (sea-pack.mjs packs it
// when that cache exists).
const loaderFile = join(outDir, 'mssql-role-check.loader.cjs');
rmSync(loaderFile, { force: true });
if (split) await bundle('build/shims/main-loader.cjs', loaderFile, []);
const apart = split && use('iconv') && use('iconv-apart');
const iconvFile = join(outDir, 'mssql-role-check.iconv.cjs');
rmSync(iconvFile, { force: true });
if (split) metas.push(await bundle('src/prober/index.ts', chunkFile, [...(apart ? [iconvApart] : []), leversPlugin(use)]));
if (apart) metas.push(await bundle({ contents: "module.exports = require('iconv-lite');" }, iconvFile, [leversPlugin(use)]));
// The daemon: without the split it stays in the main bundle (an experiment's build).
if (split) metas.push(await bundle('src/serve/index.ts', serveFile, [splitProbe]));

const inputsOf = (meta) => Object.values(meta.outputs)[0].inputs;
const stray = metas.flatMap((m) => Object.keys(inputsOf(m))).filter((f) => MUST_NOT_BUNDLE.test(f));
if (use('leave-out') && stray.length) throw new Error(`left-out packages reached the bundle:\n  ${stray.join('\n  ')}`);
if (split && Object.keys(inputsOf(metas[0])).some((f) => f.includes('node_modules/tedious/'))) {
  throw new Error('split: tedious reached the main bundle; something imports it outside src/prober');
}
if (split && Object.keys(inputsOf(metas[0])).some((f) => f.includes('node_modules/prom-client/') || f.startsWith('src/serve/'))) {
  throw new Error('split: the daemon reached the main bundle; something imports src/serve outside src/main.ts\'s serve dispatch');
}
if (split && Object.keys(inputsOf(metas.at(-1))).some((f) => f.includes('node_modules/tedious/'))) {
  throw new Error('split: tedious reached the serve chunk; src/serve must take the driver through src/prober/index.ts');
}

function report(meta) {
  const perPackage = new Map();
  for (const [file, info] of Object.entries(inputsOf(meta))) {
    const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const name = m ? m[1] : file.startsWith('lever:') || file.startsWith('split:') || file.startsWith('build/shims/') ? '(lever stubs)' : '(project)';
    perPackage.set(name, (perPackage.get(name) ?? 0) + info.bytesInOutput);
  }
  const rows = [...perPackage].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, n]) => s + n, 0);
  return rows.map(([name, n]) => `${String(n).padStart(9)}  ${name}`).join('\n') + `\n${String(total).padStart(9)}  total bytes\n`;
}
const titleOf = (file) => ({
  [out]: 'the command line', [chunkFile]: 'loaded when a check runs', [iconvFile]: 'loaded if the server sends text in a code page',
  [serveFile]: 'loaded for serve only',
})[file];
const fileOf = (meta) => resolve(root, Object.keys(meta.outputs)[0]);
writeFileSync(join(outDir, 'bundle-report.txt'), metas.map((m) => `${fileOf(m).slice(outDir.length + 1)} (${titleOf(fileOf(m))})\n${report(m)}`).join('\n'));
// One metafile for both outputs, in esbuild's own layout (build/pkgmeta.ts reads it for licenses).
const merged = { inputs: Object.assign({}, ...metas.map((m) => m.inputs)), outputs: Object.assign({}, ...metas.map((m) => m.outputs)) };
writeFileSync(join(outDir, 'bundle-meta.json'), JSON.stringify(merged));

if (split && use('warm')) {
  // A clean environment: NODE_OPTIONS would change V8's flags and so the cache's key.
  execFileSync(process.execPath, [join(root, 'build/warm-caches.mjs'), out, ...(use('warm-main') ? [] : ['--no-main'])], { stdio: 'inherit', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}
