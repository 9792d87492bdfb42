// Bundle src/ into one CommonJS file for pkg's SEA mode, and write a size report per package
// (bundle-report.txt and esbuild's metafile bundle-meta.json, next to the bundle).
// usage: bundle.mjs [OUT.cjs] [--without=LEVER,...] [--minify]
// The start-up levers are in levers.mjs; --without turns one off to measure it (bench/LEVERS.md).
// --minify was measured and not kept: it does not make start-up faster.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEVERS, MUST_NOT_BUNDLE, leversPlugin, compileEagerly } from './levers.mjs';

const args = process.argv.slice(2);
const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(args.find((a) => !a.startsWith('--')) ?? 'dist/mssql-role-check.cjs');
const minify = args.includes('--minify');
const without = new Set(args.filter((a) => a.startsWith('--without=')).flatMap((a) => a.slice(10).split(',')));
for (const a of args) if (a.startsWith('--') && !a.startsWith('--without=') && a !== '--minify') throw new Error(`unknown option ${a}`);
for (const w of without) if (!LEVERS.includes(w)) throw new Error(`unknown lever ${w} (known: ${LEVERS.join(', ')})`);
const use = (lever) => !without.has(lever);

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [leversPlugin(use)],
  write: false,
});

let code = result.outputFiles[0].text;
// The rewrite reads esbuild's unminified layout; minified output keeps V8's lazy compilation.
if (use('eager') && !minify) code = compileEagerly(code);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, code);

const inputs = Object.values(result.metafile.outputs)[0].inputs;
const stray = Object.keys(inputs).filter((f) => MUST_NOT_BUNDLE.test(f));
if (use('leave-out') && stray.length) throw new Error(`left-out packages reached the bundle:\n  ${stray.join('\n  ')}`);

const perPackage = new Map();
for (const [file, info] of Object.entries(inputs)) {
  const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  const name = m ? m[1] : file.startsWith('lever:') || file.startsWith('build/shims/') ? '(lever stubs)' : '(project)';
  perPackage.set(name, (perPackage.get(name) ?? 0) + info.bytesInOutput);
}
const rows = [...perPackage].sort((a, b) => b[1] - a[1]);
const total = rows.reduce((s, [, n]) => s + n, 0);
writeFileSync(join(dirname(out), 'bundle-report.txt'),
  rows.map(([name, n]) => `${String(n).padStart(9)}  ${name}`).join('\n') + `\n${String(total).padStart(9)}  total bytes\n`);
writeFileSync(join(dirname(out), 'bundle-meta.json'), JSON.stringify(result.metafile));
