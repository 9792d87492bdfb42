// The serve config: every bad file of test/testdata/serve is refused with its file and line (the
// message asserted), and every good file is accepted and then served by the daemon against live
// simulated servers, so a row of either kind can fail.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { parseServeConfig, readServeConfig, askFor } from '../../src/serve/config.ts';
import { UsageError } from '../../src/errors.ts';
import { startMirroredPair } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, waitForPolls, MONITOR_PASSWORD } from './daemon.ts';
import { run } from '../peers/harness.ts';

const DATA = join(ROOT, 'test/testdata/serve');
const text = (f: string) => readFileSync(join(DATA, f), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'serve-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** file → what the refusal must say (every one names the file and a line, but bad-no-target, which has none) */
const BAD: Array<[string, RegExp]> = [
  ['bad-unknown-name.conf', /line 5: unknown setting; the text before "=" is no option name/],
  ['bad-value.conf', /line 7: port: expected a TCP port 1\.\.65535, not "99999"/],
  ['bad-duplicate-section.conf', /line 9: \[sql1\] is already a section, on line 5/],
  ['bad-no-target.conf', /: no target: add a section \[NAME\]/],
  ['bad-json.conf', /line 5: "json" is not a serve setting: the JSON answers are the HTTP bodies/],
  ['bad-log-file.conf', /line 7: "log-file" is not a serve setting: serve logs to stderr/],
  ['bad-partner.conf', /line 7: "partner" is not a serve setting/],
  ['bad-listen-in-target.conf', /line 7: "listen" belongs before the first section/],
  ['bad-listen-name.conf', /line 5: listen: expected an IP address and a port .*"localhost:8008"/],
  ['bad-max-age.conf', /line 8: max-age: 1 s is less than the interval \(2 s\)/],
  ['bad-interval.conf', /line 7: interval: expected seconds 0\.1\.\.3600/],
  ['bad-reserved-name.conf', /line 5: a target may not be named "health"/],
  ['bad-section-header.conf', /line 5: expected a section header \[NAME\] or \[group NAME\]/],
  ['bad-two-passwords.conf', /line 8: password-credential: give one of password, password-file or password-credential, not several/],
  ['bad-missing-host.conf', /line 5: \[sql1\]: no server to check/],
  ['bad-credential-no-dir.conf', /line 5: password-credential: CREDENTIALS_DIRECTORY is not set/],
  ['bad-no-password.conf', /line 3: \[sql1\]: no password: give password, password-file or password-credential/],
  ['bad-group-member.conf', /line 7: \[group pair\]: members: "sql9" is no target of this file/],
  ['bad-repeated-name.conf', /line 8: "port" is already set on line 7/],
  ['bad-comment.conf', /line 6: host: "#" in the value/],
  ['bad-role-option.conf', /line 7: max-lag: applies to --role secondary, not primary/],
  ['bad-members-in-target.conf', /line 7: "members" belongs in a \[group\]/],
  ['bad-one-shot-in-group.conf', /line 9: a \[group\] section takes only "members"/],
];

for (const [file, message] of BAD) {
  test(`refused: ${file}`, () => {
    const path = join(tmp, file);
    writeFileSync(path, text(file), { mode: 0o600 });
    assert.throws(() => readServeConfig(path, {}), (err: unknown) => {
      assert.ok(err instanceof UsageError, `a UsageError, not ${String(err)}`);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(path), `names the file: ${err.message}`);
      assert.ok(!err.message.includes(MONITOR_PASSWORD), 'no password in the message');
      return true;
    });
  });
}

test('refused: a config readable by others, as the one-shot refuses its config file', () => {
  const path = join(tmp, 'open.conf');
  writeFileSync(path, text('good-minimal.conf'));
  chmodSync(path, 0o644);
  assert.throws(() => readServeConfig(path, {}), /config file .*open\.conf is accessible by others \(mode 0644\); fix: chmod 6[04]0/);
});

test('--check-config: one line, exit 0 for a good file and 1 for a bad one (packed binary)', async () => {
  const good = join(tmp, 'check-good.conf');
  writeFileSync(good, text('good-minimal.conf').replace('@PORT_A@', '1433'), { mode: 0o600 });
  const bad = join(tmp, 'check-bad.conf');
  writeFileSync(bad, text('bad-value.conf'), { mode: 0o600 });
  const env = { PATH: '/usr/bin:/bin' };
  const ok = await run(BIN_X64, ['serve', '--config', good, '--check-config'], { env, limitMs: 10_000 });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /^\S+check-good\.conf: ok: 1 target\(s\) \(sql1 127\.0\.0\.1:1433\), listen 127\.0\.0\.1:0\n$/);
  const no = await run(BIN_X64, ['serve', '--config', bad, '--check-config'], { env, limitMs: 10_000 });
  assert.equal(no.status, 1);
  assert.match(no.stderr, /^mssql-role-check: \S+check-bad\.conf line 7: port: expected a TCP port/);
  assert.equal(no.stderr.split('\n').length, 2, 'one line');
  const missing = await run(BIN_X64, ['serve', '--config', join(tmp, 'nope.conf'), '--check-config'], { env, limitMs: 10_000 });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /config file \S+nope\.conf does not exist/);
});

test('defaults and sections: a section replaces a default whole, serve names per target, the request roles judged by toSettings', () => {
  writeFileSync(join(tmp, 'password'), `${MONITOR_PASSWORD}\n`, { mode: 0o600 });
  const c = parseServeConfig(text('good-pair.conf').replaceAll('@PORT_A@', '1').replaceAll('@PORT_B@', '2').replaceAll('@DIR@', tmp), 'pair.conf', {});
  assert.equal(c.targets.length, 2);
  const [a, b] = c.targets;
  assert.equal(a.intervalMs, 500);
  assert.equal(a.maxAgeMs, 2000);
  assert.equal(b.intervalMs, 1000);
  assert.equal(b.maxAgeMs, 3000, 'default max-age: 3 x interval');
  assert.deepEqual(b.settings.mirroringStates, ['SYNCHRONIZED', 'SYNCHRONIZING']);
  assert.equal(a.settings.timeoutMs, 2000);
  assert.deepEqual(c.groups, [{ name: 'pair', line: 22, members: ['sql1', 'sql2'] }]);
  // sql2's mirroring states apply to primary and mirror only: a request for secondary drops them
  assert.equal(b.asks.secondary.mirroringStates, undefined);
  assert.deepEqual(b.asks.mirror.mirroringStates, undefined, 'another role: the target\'s own role options are not carried');
  assert.deepEqual(b.asks.primary.mirroringStates, ['SYNCHRONIZED', 'SYNCHRONIZING']);
  assert.equal(a.asks.online.requireHa, false);
  assert.equal(a.asks.primary.requireHa, true);
  assert.throws(() => askFor(a, 'primary', new Map([['max-lag', [{ value: '3', origin: '?max-lag' }]]])), /\?max-lag: applies to --role secondary, not primary/);
  assert.equal(askFor(a, 'secondary', new Map([['max-lag', [{ value: '30', origin: '?max-lag' }]]])).maxLagSeconds, 30);
}, );

// The good files, served: each is accepted and the daemon answers from live simulated servers.
const pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
after(() => pair.close());
const fill = (t: string) => t.replaceAll('@PORT_A@', String(pair.servers[0].port)).replaceAll('@PORT_B@', String(pair.servers[1].port));

/** path → [status, errorCode] of its answer */
type Expect = Record<string, [number, string | null]>;
const GOOD: Array<{ file: string; files?: Record<string, string>; credentials?: Record<string, string>; expect: Expect }> = [
  { file: 'good-minimal.conf', expect: { '/sql1/primary': [200, null], '/sql1/mirror': [503, 'ROLE'] } },
  { file: 'good-pair.conf', files: { password: `${MONITOR_PASSWORD}\n` }, expect: { '/sql1/primary': [200, null], '/sql2/primary': [503, 'ROLE'], '/sql2/mirror': [503, 'ROLE'] } },
  {
    file: 'good-credentials.conf',
    credentials: { 'sql1-password': MONITOR_PASSWORD, 'mssql-password': 'Sim-Sa-Passw0rd' },
    // sql2 logs in as sa (sysadmin): only a sysadmin sees the mirror's role
    expect: { '/sql1/primary': [200, null], '/sql2/mirror': [200, null], '/sql2/primary': [503, 'ROLE'] },
  },
];

for (const g of GOOD) {
  test(`accepted and served: ${g.file}`, { timeout: 30_000 }, async () => {
    let env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' };
    let credDir: string | undefined;
    if (g.credentials) {
      credDir = mkdtempSync(join(tmpdir(), 'serve-cred-'));
      for (const [n, v] of Object.entries(g.credentials)) writeFileSync(join(credDir, n), v, { mode: 0o400 });
      env = { ...env, CREDENTIALS_DIRECTORY: credDir };
    }
    const d = await startServe({ config: fill(text(g.file)), files: g.files, env });
    try {
      await waitForPolls(d, [...new Set(Object.keys(g.expect).map((p) => p.split('/')[1]))]);
      for (const [path, [status, code]] of Object.entries(g.expect)) {
        const r = await d.get(path);
        assert.equal(r.status, status, `${path}: ${r.text.slice(0, 300)}`);
        assert.equal(r.json?.errorCode, code, path);
      }
    } finally {
      await d.stop();
      if (credDir) rmSync(credDir, { recursive: true, force: true });
    }
  });
}
