// Bundle src/ into one CommonJS file for pkg's SEA mode, and write a size report per package.
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';

const out = process.argv[2] ?? 'dist/mssql-role-check.cjs';
const result = await build({
  entryPoints: ['src/main.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const perPackage = new Map();
for (const [file, info] of Object.entries(result.metafile.outputs[out].inputs)) {
  const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  const name = m ? m[1] : '(project)';
  perPackage.set(name, (perPackage.get(name) ?? 0) + info.bytesInOutput);
}
const rows = [...perPackage].sort((a, b) => b[1] - a[1]);
const total = rows.reduce((s, [, n]) => s + n, 0);
mkdirSync('dist', { recursive: true });
writeFileSync('dist/bundle-report.txt',
  rows.map(([name, n]) => `${String(n).padStart(9)}  ${name}`).join('\n') + `\n${String(total).padStart(9)}  total bytes\n`);
writeFileSync('dist/bundle-meta.json', JSON.stringify(result.metafile));
