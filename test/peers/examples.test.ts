// The shipped example snippets are accepted by the real programs: keepalived --config-test for
// every keepalived example (MISC_CHECK, misc_dynamic, vrrp_script), haproxy -c for the HAProxy
// example, sh -n for the HAProxy wrapper, and the check itself for the example config file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { tempDir, writePrivate, freePort, run, secureCopy } from './harness.ts';
import { keepalivedConfigTest, CHECK_USER } from '../helpers/check-user.ts';

const EXAMPLES = join(ROOT, 'doc/examples');
const INSTALLED_BIN = '/usr/bin/mssql-role-check';
let tmp: ReturnType<typeof tempDir>;

before(() => { tmp = tempDir('mrc-examples'); chmodSync(tmp.dir, 0o711); });
after(() => tmp?.remove());

const keepalivedExamples = () => readdirSync(EXAMPLES).filter((f) => /^keepalived.*\.conf$/.test(f)).sort();

/**
 * The examples name the installed paths (/usr/bin/mssql-role-check, /etc/mssql-role-check/...),
 * which do not exist on a build machine; with enable_script_security keepalived rejects a script
 * it cannot find. Point them at the built binary and a real 0600 config file, nothing else.
 */
function localised(text: string): string {
  const conf = join(tmp.dir, 'installed.conf');
  if (!existsSync(conf)) writePrivate(conf, 'user = lbcheck\ndatabase = AppDb\n');
  const bin = join(tmp.dir, 'mssql-role-check');
  if (!existsSync(bin)) secureCopy(BIN_X64, tmp.dir, 'mssql-role-check');
  return text.replaceAll(INSTALLED_BIN, bin).replace(/\/etc\/mssql-role-check\/[\w.-]+\.conf/g, conf);
}

/** keepalived --config-test with the check's system user known (test/helpers/check-user.ts). */
function configTest(file: string): { status: number | null; output: string } {
  return keepalivedConfigTest(file, tmp.dir);
}

test('doc/examples has keepalived snippets for MISC_CHECK, misc_dynamic and vrrp_script', () => {
  assert.ok(existsSync(EXAMPLES), 'doc/examples is missing');
  const all = keepalivedExamples().map((f) => readFileSync(join(EXAMPLES, f), 'utf8')).join('\n');
  assert.match(all, /MISC_CHECK\s*\{/, 'no MISC_CHECK example');
  assert.match(all, /misc_dynamic/, 'no misc_dynamic example');
  assert.match(all, /vrrp_script\s+\S+\s*\{/, 'no vrrp_script example');
  console.log(`# keepalived examples: ${keepalivedExamples().join(', ')}`);
  const ipvs = existsSync('/proc/net/ip_vs');
  console.log(`# note: IPVS is ${ipvs ? 'present' : 'absent from this kernel (no /proc/net/ip_vs)'}; keepalived's MISC_CHECK and ` +
    'misc_dynamic drive IPVS real servers, so those examples are validated with --config-test only; the check itself runs ' +
    'under keepalived for real through vrrp_script (keepalived.test.ts)');
});

test('every keepalived example passes keepalived --config-test', () => {
  const files = keepalivedExamples();
  assert.ok(files.length > 0, 'no keepalived examples to validate');
  for (const f of files) {
    const copy = join(tmp.dir, f);
    writeFileSync(copy, localised(readFileSync(join(EXAMPLES, f), 'utf8')));
    const r = configTest(copy);
    assert.equal(r.status, 0, `${f}: keepalived --config-test exit ${r.status}:\n${r.output}`);
    assert.equal(r.output, '', `${f}: keepalived --config-test printed warnings:\n${r.output}`);
    const text = readFileSync(join(EXAMPLES, f), 'utf8');
    const scripts = [...text.matchAll(/(?:misc_path|script)\s+"([^"]+)"/g)].map((m) => m[1]);
    // the HTTP_GET example runs nothing: keepalived itself asks the daemon
    if (scripts.length === 0) { assert.match(text, /HTTP_GET\s*\{/, `${f}: neither a script nor HTTP_GET`); continue; }
    assert.match(text, new RegExp(`^\\s*script_user ${CHECK_USER}$`, 'm'), `${f}: the check runs as ${CHECK_USER}`);
    assert.match(text, /^\s*enable_script_security$/m, `${f}: enable_script_security`);
    assert.doesNotMatch(text, /script_user root/, `${f}: never as root`);
    // and its script lines name the check, or curl asking the local daemon (serve)
    for (const script of scripts) {
      assert.ok(script.startsWith(INSTALLED_BIN) || /^\/usr\/bin\/curl -fsS .* http:\/\/127\.0\.0\.1:8008\/[\w.-]+\/primary$/.test(script),
        `${f}: the check is not run from ${INSTALLED_BIN}, nor asked of the daemon with curl -fsS: ${script}`);
    }
  }
});

test('keepalived --config-test does reject a broken copy (the check above can fail)', () => {
  const f = keepalivedExamples()[0];
  const broken = join(tmp.dir, `broken-${f}`);
  // an unknown keyword inside the first block and an unbalanced brace
  writeFileSync(broken, localised(readFileSync(join(EXAMPLES, f), 'utf8')).replace('{', '{\n    no_such_keyword 1\n') + '\n}\n');
  const r = configTest(broken);
  assert.ok(r.status !== 0 || r.output !== '', 'keepalived --config-test accepted a broken file silently');
});

test('the HAProxy serve example (httpchk against the daemon) passes haproxy -c', () => {
  const cfg = join(EXAMPLES, 'haproxy-serve.cfg');
  const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `haproxy -c: ${r.stdout}${r.stderr}`);
  const text = readFileSync(cfg, 'utf8');
  assert.match(text, /^\s*option httpchk$/m);
  assert.match(text, /^\s*http-check expect status 200$/m);
  assert.match(text, /check port 8008 addr 127\.0\.0\.1/);
  assert.doesNotMatch(text, /external-check/, 'the daemon needs no external check');
});

test('the HAProxy example passes haproxy -c and its wrapper is valid sh that runs the check', () => {
  const cfg = join(EXAMPLES, 'haproxy.cfg');
  assert.ok(existsSync(cfg), 'doc/examples/haproxy.cfg is missing');
  const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `haproxy -c: ${r.stdout}${r.stderr}`);
  const wrapper = readdirSync(EXAMPLES).find((f) => /^haproxy-.*check$/.test(f));
  assert.ok(wrapper, 'no HAProxy external-check wrapper in doc/examples');
  const sh = spawnSync('sh', ['-n', join(EXAMPLES, wrapper)], { encoding: 'utf8' });
  assert.equal(sh.status, 0, sh.stderr);
  assert.match(readFileSync(join(EXAMPLES, wrapper), 'utf8'), /^exec \/usr\/bin\/mssql-role-check /m);
  assert.match(readFileSync(cfg, 'utf8'), new RegExp(`external-check command \\S*${wrapper}`));
});

test('the example config file is accepted by the check (it fails only for want of a server)', async () => {
  const conf = join(tmp.dir, 'example.conf');
  writePrivate(conf, readFileSync(join(EXAMPLES, 'mssql-role-check.conf')));
  const port = await freePort();
  const r = await run(BIN_X64, ['--config', conf, '--host', '127.0.0.1', '--port', String(port), '--json'],
    { env: { MSSQL_PASSWORD: 'example-check-pw' }, limitMs: 15_000 });
  assert.equal(r.status, 1, r.stderr);
  const json = JSON.parse(r.stdout) as { errorCode: string; phase: string };
  assert.equal(json.errorCode, 'ESOCKET', `expected a connection failure, not a settings problem: ${r.stdout}${r.stderr}`);
});
