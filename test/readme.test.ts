// The README and --help document the same surface as the option table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIONS, EXIT_CODES } from '../src/cli-spec.ts';
import { ROOT } from './helpers/paths.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('README opens with the two set-up commands that CI runs', () => {
  const first = readme.split('\n').slice(0, 10).join('\n');
  assert.match(first, /^make demo\b/m);
  assert.match(first, /^make deps && make test\b/m);
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  assert.match(ci, /^make deps$/m);
  assert.match(ci, /^make test$/m);
});

test('README documents every option and exit code', () => {
  for (const o of OPTIONS.filter((x) => !x.configOnly)) {
    assert.ok(readme.includes(`--${o.name}`), `README lacks --${o.name}`);
  }
  for (const e of EXIT_CODES) assert.match(readme, new RegExp(`^\\| ${e.code.replace('+', '\\+')} \\|`, 'm'), `README lacks exit code ${e.code}`);
});
