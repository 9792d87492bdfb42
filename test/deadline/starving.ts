// The packed check with an injected busy loop (starving-entry.ts), built on first use and again
// whenever the product's bundle or the entry is newer than it: dist/starving/.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, NODE } from '../helpers/paths.ts';

const DIR = join(ROOT, 'dist/starving');
const ENTRY = join(ROOT, 'test/deadline/starving-entry.ts');
const PRODUCT = join(ROOT, 'dist/mssql-role-check.cjs');

export function starvingBinaries(): { x64: string; arm64: string } {
  const out = { x64: join(DIR, 'mssql-role-check-linux-x64'), arm64: join(DIR, 'mssql-role-check-linux-arm64') };
  const newest = Math.max(...[PRODUCT, ENTRY, join(ROOT, 'test/deadline/late.ts')].map((f) => statSync(f).mtimeMs));
  const fresh = Object.values(out).every((f) => existsSync(f) && statSync(f).mtimeMs > newest);
  if (!fresh) {
    execFileSync(NODE, [join(ROOT, 'build/bundle.mjs'), join(DIR, 'mssql-role-check.cjs'), `--entry=${ENTRY}`], { cwd: ROOT, stdio: 'inherit' });
    execFileSync(join(ROOT, 'build/pack.sh'), [join(DIR, 'mssql-role-check.cjs'), join(DIR, 'mssql-role-check')], { cwd: ROOT, stdio: 'inherit' });
  }
  return out;
}
