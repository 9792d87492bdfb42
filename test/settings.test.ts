// Settings as tables, blackbox_exporter style: the good and bad config files under
// test/testdata/config, every option's bad values, private-file modes, and precedence.
// The bad config files are also run through the built binary: exit 1 and one line on stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, chmodSync, chownSync, copyFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { collect } from '../src/options.ts';
import type { Env } from '../src/options.ts';
import { toSettings } from '../src/settings.ts';
import type { Settings } from '../src/settings.ts';
import { UsageError } from '../src/errors.ts';
import { ROOT, BIN_X64 } from './helpers/paths.ts';

const DATA = join(ROOT, 'test/testdata/config');
const SECRET = 'TopSecret9!';
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'settings-test-'));
  writeFileSync(join(dir, 'password'), 'file-pass\nsecond line ignored\n', { mode: 0o600 });
  writeFileSync(join(dir, 'empty-password'), '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'open-password'), 'x\n', { mode: 0o644 });
  chmodSync(join(dir, 'open-password'), 0o644);
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'not-a-ca.pem'), 'hello\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config file from testdata, copied with mode 0600 (git stores 0644) and @DIR@ filled in. */
function configCopy(kind: 'good' | 'bad', name: string, mode = 0o600): string {
  const text = readFileSync(join(DATA, kind, name), 'latin1').replaceAll('@DIR@', dir);
  const path = join(dir, `${kind}-${name}`);
  writeFileSync(path, text, { encoding: 'latin1', mode });
  chmodSync(path, mode);
  return path;
}

function load(argv: string[], env: Env = {}): Settings {
  const c = collect(argv, env);
  assert.ok(!c.help && !c.version);
  return toSettings(c.values);
}

function problem(argv: string[], env: Env = {}): string {
  try {
    load(argv, env);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return assert.fail(`no error for ${JSON.stringify(argv)}`);
}

/** A loopback port nothing listens on: bound, then closed. */
async function closedPortNumber(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const BASE = ['--host', '10.0.0.11', '--user', 'monitor', '--database', 'Sales'];
const ENV: Env = { MSSQL_PASSWORD: 'env-pass' };

// ---------------------------------------------------------------- config files
const GOOD: Record<string, (s: Settings) => void> = {
  'minimal.conf': (s) => {
    assert.equal(s.host, '10.0.0.11');
    assert.equal(s.port, 1433);
    assert.equal(s.user, 'monitor');
    assert.equal(s.password, 's3cret-Pa55');
    assert.deepEqual(s.databases, ['Sales']);
    assert.equal(s.role, 'primary');
    assert.equal(s.encrypt, 'on', 'TLS unless --encrypt off is said');
    assert.equal(s.timeoutMs, 3000);
    assert.equal(s.applicationName, 'mssql-role-check');
    assert.equal(s.verbose, false);
    assert.equal(s.json, false);
    assert.equal(s.weight, undefined);
  },
  'full.conf': (s) => {
    assert.equal(s.host, 'sql1.example.com');
    assert.equal(s.instance, 'PROD');
    assert.equal(s.port, undefined);
    assert.equal(s.password, 'file-pass');
    assert.equal(s.domain, 'CORP');
    assert.equal(s.encrypt, 'on');
    assert.equal(s.trustServerCertificate, true);
    assert.equal(s.applicationName, 'lb-check');
    assert.equal(s.timeoutMs, 2500);
    assert.deepEqual(s.databases, ['Sales', 'Stock Room', "[weird] 'name'"]);
    assert.equal(s.role, 'mirror');
    assert.deepEqual(s.mirroringStates, ['SYNCHRONIZED', 'SYNCHRONIZING', 'SUSPENDED']);
    assert.equal(s.requireHa, true);
    assert.equal(s.maintenanceFile, '/etc/mssql-role-check/drain');
    assert.equal(s.weight, 100);
    assert.equal(s.verbose, false);
    assert.equal(s.json, true);
    assert.equal(s.logFile, join(dir, 'check.log'));
    assert.equal(typeof s.logFd, 'number', 'the log file is opened while the options are checked');
  },
  'crlf-secondary.conf': (s) => {
    assert.equal(s.host, '10.0.0.12');
    assert.equal(s.password, 'crlf-pass');
    assert.equal(s.role, 'secondary');
    assert.equal(s.maxLagSeconds, 30);
  },
  'bom-ipv6.conf': (s) => {
    assert.equal(s.host, '::1');
    assert.equal(s.port, 14330);
    assert.equal(s.password, 'p=with=equals # not a comment');
    assert.deepEqual(s.databases, ['Ünïcødé db']);
  },
};

test('every file in testdata/config/good has a test and every one in bad has its message', () => {
  assert.deepEqual(readdirSync(join(DATA, 'good')).sort(), Object.keys(GOOD).sort());
  assert.deepEqual(readdirSync(join(DATA, 'bad')).sort(), Object.keys(BAD).sort());
});

for (const [name, check] of Object.entries(GOOD)) {
  test(`good config ${name}`, () => {
    const s = load(['--config', configCopy('good', name)]);
    check(s);
  });
}

// bad file → the message (after "<file> line N: " where a line is involved)
const BAD: Record<string, RegExp> = {
  'unknown-key.conf': /line 3: unknown setting "hots"$/,
  'missing-equals.conf': /line 1: expected "name = value"$/,
  'duplicate-key.conf': /line 3: "host" is already set on line 1$/,
  'cli-only-key.conf': /line 1: "config" is accepted only on the command line$/,
  'empty-name.conf': /line 2: missing name before "="$/,
  'bad-port.conf': /line 5: port: expected a TCP port 1\.\.65535, not "70000"$/,
  'bad-flag.conf': /line 5: json: expected true or false, not "maybe"$/,
  'bad-role.conf': /line 5: role: expected one of primary, principal, secondary, mirror, online, not "leader"$/,
  'password-and-file.conf': /line 4: password-file: give either "password" or "password-file" in the config file, not both$/,
  'zero-timeout.conf': /line 5: timeout: expected seconds greater than 0 and at most 300/,
  'max-lag-with-primary.conf': /line 5: max-lag: applies to --role secondary, not primary$/,
  'bad-mirroring-state.conf': /line 5: mirroring-state: expected mirroring states from .*, not "SYNCHRONISED"$/,
  'instance-and-port.conf': /line 3: port: --port and --instance exclude each other/,
  'empty-database.conf': /line 4: database: needs a database name$/,
  'weight-too-big.conf': /line 5: weight: expected an integer 0\.\.253/,
  'no-database.conf': /^no database to check/,
  'empty-password.conf': /line 3: password: is empty$/,
  // a "#" after a value is no comment: the drain file would never exist, the check never drain
  'inline-comment.conf': /line 5: maintenance-file: "#" in the value \(a comment goes on a line of its own\)$/,
  // relative to the directory keepalived runs the check in (/): never there, never drains
  'quoted-maintenance-file.conf': /line 5: maintenance-file: needs an absolute path, not "\\"\/etc/,
  // the text before "=" may be a password that lost its "password =": not repeated
  'password-before-equals.conf': /line 3: unknown setting; the text before "=" is no option name \(see --help\)$/,
  'latin1.conf': /line 5: not UTF-8 text \(save the file as UTF-8\)$/,
};

for (const [name, message] of Object.entries(BAD)) {
  test(`bad config ${name} is refused`, () => {
    const path = configCopy('bad', name);
    const m = problem(['--config', path]);
    assert.match(m, message);
    assert.doesNotMatch(m, /Xyzzy/, 'no secret from the file in the message');
    if (!/^no database/.test(m)) assert.ok(m.startsWith(path), `message names the file: ${m}`);
  });
}

test('binary: every bad config file exits 1 with one line on stderr and nothing on stdout', () => {
  assert.ok(existsSync(BIN_X64), `${BIN_X64} missing: run make first`);
  for (const [name, message] of Object.entries(BAD)) {
    const r = spawnSync(BIN_X64, ['--config', configCopy('bad', name)], { encoding: 'utf8', timeout: 20_000, env: {} });
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, '', name);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `${name}: one line, got ${JSON.stringify(r.stderr)}`);
    assert.ok(lines[0].startsWith('mssql-role-check: '), lines[0]);
    assert.match(lines[0].slice('mssql-role-check: '.length), message);
  }
});

// ---------------------------------------------------------------- private files
test('config file readable by others, or writable by its group, is refused with the chmod that fixes it', () => {
  for (const [mode, message] of [
    [0o644, (p: string) => `config file ${p} is accessible by others (mode 0644); fix: chmod 640 ${p}`],
    [0o604, (p: string) => `config file ${p} is accessible by others (mode 0604); fix: chmod 600 ${p}`],
    [0o620, (p: string) => `config file ${p} is writable or executable by its group (mode 0620); fix: chmod 640 ${p}`],
    [0o650, (p: string) => `config file ${p} is writable or executable by its group (mode 0650); fix: chmod 640 ${p}`],
  ] as const) {
    const path = configCopy('good', 'minimal.conf', mode);
    assert.equal(problem(['--config', path]), message(path));
  }
  // root owns these (the test runs as root): 0640 is root's and its group's, which root may read
  for (const mode of [0o600, 0o400, 0o640, 0o440]) {
    assert.equal(load(['--config', configCopy('good', 'minimal.conf', mode)]).host, '10.0.0.11');
  }
});

// Who may read a private file, as libpq rules for root-owned key files: 0600 for the owner, or
// 0640 owned by root with the group of the user that runs the check. Run by the packed binary as
// root and as an unprivileged user (nobody, its own group only), against a closed port: accepted
// means the check got as far as the network (ESOCKET), refused means one line naming the fix.
test('private files: owner, group and mode, as root and as an unprivileged user (packed binary)', async () => {
  assert.equal(process.getuid?.(), 0, 'this table needs root (to chown and to run as nobody)');
  const nobody = { uid: 65534, gid: 65534 };
  const nogroup = /^([^:]+):[^:]*:65534:/m.exec(readFileSync('/etc/group', 'utf8'))?.[1] ?? '65534';
  const shared = mkdtempSync(join(tmpdir(), 'private-files-'));
  chmodSync(shared, 0o711);
  const port = await closedPortNumber();
  // a copy of the binary that nobody can reach (the checkout may be under /root)
  const bin = join(shared, 'mssql-role-check');
  copyFileSync(BIN_X64, bin);
  chmodSync(bin, 0o755);
  type Row = [label: string, as: 'root' | 'nobody', owner: number, group: number, mode: number, kind: 'config' | 'password', expect: 'accepted' | ((p: string) => string)];
  const rows: Row[] = [
    ['root:nogroup 0640 config, run as nobody', 'nobody', 0, nobody.gid, 0o640, 'config', 'accepted'],
    ['root:nogroup 0640 password file, run as nobody', 'nobody', 0, nobody.gid, 0o640, 'password', 'accepted'],
    ['root:nogroup 0440, run as nobody', 'nobody', 0, nobody.gid, 0o440, 'config', 'accepted'],
    ['nobody:nogroup 0600, run as nobody', 'nobody', nobody.uid, nobody.gid, 0o600, 'config', 'accepted'],
    ['root:nogroup 0640, run as root', 'root', 0, nobody.gid, 0o640, 'config', 'accepted'],
    ['root:root 0600, run as root', 'root', 0, 0, 0o600, 'password', 'accepted'],
    ['root:root 0640, run as nobody (not its group)', 'nobody', 0, 0, 0o640, 'config',
      (p) => `config file ${p} cannot be read (permission denied); fix: chown root:${nogroup} ${p} && chmod 640 ${p}`],
    ['root:nogroup 0600, run as nobody (no read access)', 'nobody', 0, nobody.gid, 0o600, 'password',
      (p) => `password file ${p} cannot be read (permission denied); fix: chown root:${nogroup} ${p} && chmod 640 ${p}`],
    ['nobody:nogroup 0640 (group read, not root\'s)', 'nobody', nobody.uid, nobody.gid, 0o640, 'password',
      (p) => `password file ${p} is readable by its group but not owned by root (mode 0640); fix: chmod 600 ${p}, or chown root:${nogroup} ${p} && chmod 640 ${p}`],
    ['root:nogroup 0644, run as nobody', 'nobody', 0, nobody.gid, 0o644, 'config', (p) => `config file ${p} is accessible by others (mode 0644); fix: chmod 640 ${p}`],
    ['root:nogroup 0660, run as nobody', 'nobody', 0, nobody.gid, 0o660, 'password', (p) => `password file ${p} is writable or executable by its group (mode 0660); fix: chmod 640 ${p}`],
    ['root:root 0604, run as root', 'root', 0, 0, 0o604, 'password', (p) => `password file ${p} is accessible by others (mode 0604); fix: chmod 600 ${p}`],
  ];
  try {
    rows.forEach(([label, as, owner, group, mode, kind, expect], i) => {
      const file = join(shared, `row${i}`);
      writeFileSync(file, kind === 'config' ? `host = 127.0.0.1\nport = ${port}\nuser = monitor\ndatabase = Sales\n` : 'row-pass\n');
      chownSync(file, owner, group);
      chmodSync(file, mode);
      const args = kind === 'config' ? ['--config', file, '--json'] : [...BASE.map((a) => a === '10.0.0.11' ? '127.0.0.1' : a), '--port', String(port), '--password-file', file, '--json'];
      const cmd = as === 'root' ? [bin, ...args] : ['setpriv', `--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', bin, ...args];
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 30_000, env: { MSSQL_PASSWORD: 'env-pass' } });
      assert.equal(r.status, 1, `${label}: exit ${r.status}: ${r.stderr}`);
      if (expect === 'accepted') {
        // accepted: the check ran on to the network. The port was closed when chosen, but a test
        // running beside this one may listen on it by now, so how the network part fails varies.
        const json = JSON.parse(r.stdout) as { errorCode: string; phase: string };
        assert.ok(['connect', 'prelogin', 'login'].includes(json.phase), `${label}: expected the file to be accepted: ${r.stdout}${r.stderr}`);
        assert.notEqual(json.errorCode, 'USAGE', label);
      } else {
        assert.equal(r.stdout, '', `${label}: a refused file gives no verdict`);
        assert.equal(r.stderr, `mssql-role-check: ${expect(file)}\n`, label);
      }
    });
  } finally {
    rmSync(shared, { recursive: true, force: true });
  }
});

test('password file readable by group or others is refused; 0600 is read, first line only', () => {
  const open = join(dir, 'open-password');
  assert.equal(problem([...BASE, '--password-file', open]),
    `password file ${open} is accessible by others (mode 0644); fix: chmod 640 ${open}`);
  assert.equal(load([...BASE, '--password-file', join(dir, 'password')]).password, 'file-pass');
  assert.match(problem([...BASE, '--password-file', join(dir, 'empty-password')]), /is empty/);
  assert.match(problem([...BASE, '--password-file', join(dir, 'nope')]), /password file .*nope does not exist/);
  assert.match(problem([...BASE, '--password-file', dir]), /is not a regular file/);
  assert.match(problem(['--config', join(dir, 'missing.conf')]), /^config file .*missing\.conf does not exist$/);
  // as an editor on Windows saves it: BOM and CRLF are not part of the password
  writeFileSync(join(dir, 'bom-password'), '\uFEFFfile-pass\r\n', { mode: 0o600 });
  assert.equal(load([...BASE, '--password-file', join(dir, 'bom-password')]).password, 'file-pass');
  writeFileSync(join(dir, 'latin1-password'), Buffer.from('p\xe4ss\n', 'latin1'), { mode: 0o600 });
  assert.match(problem([...BASE, '--password-file', join(dir, 'latin1-password')]), /^password file .*latin1-password is not UTF-8 text$/);
});

test('binary: a FIFO as config, password, CA or log file is refused at once, never waited on', () => {
  const fifo = join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const cases: Array<[string[], RegExp]> = [
    [['--config', fifo], /config file .*fifo is not a regular file/],
    [[...BASE, '--password-file', fifo], /password file .*fifo is not a regular file/],
    [[...BASE, '--encrypt', 'on', '--ca-file', fifo], /CA file .*fifo is not a regular file/],
    [[...BASE, '--log-file', fifo], /--log-file: .*fifo cannot be opened for appending \(ENXIO\)/],
  ];
  for (const [args, message] of cases) {
    const r = spawnSync(BIN_X64, args, { encoding: 'utf8', timeout: 5_000, env: { MSSQL_PASSWORD: 'x1' } });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.error ?? r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  }
});

// ---------------------------------------------------------------- bad option values
const BAD_OPTIONS: Array<[string, string[], Env, string | RegExp]> = [
  ['no host', ['--user', 'm', '-d', 'Sales'], ENV, /^no server to check/],
  ['empty host', ['--host', '', '-U', 'm', '-d', 'S'], ENV, '--host: needs a value'],
  ['host without value at the end', ['-U', 'm', '-d', 'S', '--host'], ENV, '--host: needs a value'],
  ['host followed by an option', ['--host', '--json', '-U', 'm', '-d', 'S'], ENV, '--host: needs a value'],
  ['host\\instance', ['--host', 'sql1\\PROD', '-U', 'm', '-d', 'S'], ENV, 'give the instance with --instance'],
  ['host:port', ['--host', 'sql1:1433', '-U', 'm', '-d', 'S'], ENV, 'give it with --port'],
  ['host with spaces', ['--host', 'bad host', '-U', 'm', '-d', 'S'], ENV, 'is not a host name or IP address'],
  ['host as path', ['--host', '/run/sql.sock', '-U', 'm', '-d', 'S'], ENV, 'is a path'],
  ['port 0', [...BASE, '--port', '0'], ENV, '--port: expected a TCP port 1..65535, not "0"'],
  ['port 65536', [...BASE, '--port', '65536'], ENV, 'expected a TCP port'],
  ['port negative', [...BASE, '--port', '-1'], ENV, 'expected a TCP port 1..65535, not "-1"'],
  ['port negative short', [...BASE, '-p', '-1'], ENV, 'expected a TCP port 1..65535, not "-1"'],
  ['port non-numeric', [...BASE, '--port', 'abc'], ENV, 'expected a TCP port'],
  ['port fraction', [...BASE, '--port', '14.5'], ENV, 'expected a TCP port'],
  ['port empty', [...BASE, '--port='], ENV, '--port: needs a value'],
  ['port and instance', [...BASE, '--port', '1433', '--instance', 'PROD'], ENV, 'exclude each other'],
  ['instance too long', [...BASE, '--instance', 'ABCDEFGHIJKLMNOPQ'], ENV, 'is not an instance name'],
  ['instance with backslash', [...BASE, '--instance', 'A\\B'], ENV, 'is not an instance name'],
  ['no user', ['--host', 'h', '-d', 'S'], ENV, /^no login/],
  ['user too long', ['--host', 'h', '-d', 'S', '-U', 'u'.repeat(129)], ENV, 'longer than 128'],
  ['no password', BASE, {}, /^no password/],
  ['role unknown', [...BASE, '--role', 'leader'], ENV, '--role: expected one of primary, principal, secondary, mirror, online, not "leader"'],
  ['role empty', [...BASE, '--role', ''], ENV, '--role: needs a value'],
  ['encrypt unknown', [...BASE, '--encrypt', 'yes'], ENV, '--encrypt: expected one of off, on, strict'],
  ['trust with encrypt off', [...BASE, '--encrypt', 'off', '--trust-server-certificate'], ENV, 'needs --encrypt on'],
  ['trust with strict', [...BASE, '--encrypt', 'strict', '--trust-server-certificate'], ENV, 'always verifies the server certificate; give --ca-file'],
  ['ca-file with trust', [...BASE, '--encrypt', 'on', '--trust-server-certificate', '--ca-file', '/x.pem'], ENV, 'exclude each other'],
  ['ca-file with encrypt off', [...BASE, '--encrypt', 'off', '--ca-file', '/x.pem'], ENV, 'needs --encrypt on or strict'],
  ['ca-file missing', [...BASE, '--encrypt', 'on', '--ca-file', '/nonexistent/ca.pem'], ENV, '--ca-file: CA file /nonexistent/ca.pem does not exist'],
  ['ca-file a directory', [...BASE, '--encrypt', 'on', '--ca-file', '/'], ENV, 'is not a regular file'],
  // --tls-min-version: every accepted value also runs against a live simulator in test/tls-version.test.ts
  ['tls-min-version unknown', [...BASE, '--encrypt', 'on', '--tls-min-version', '1.4'], ENV, '--tls-min-version: expected one of 1.0, 1.1, 1.2, 1.3, not "1.4"'],
  ['tls-min-version as Node names it', [...BASE, '--encrypt', 'on', '--tls-min-version', 'TLSv1.2'], ENV, 'expected one of 1.0, 1.1, 1.2, 1.3, not "TLSv1.2"'],
  ['tls-min-version without the minor', [...BASE, '--encrypt', 'on', '--tls-min-version', '1'], ENV, 'not "1"'],
  ['tls-min-version SSL 3', [...BASE, '--encrypt', 'on', '--tls-min-version', 'ssl3'], ENV, 'not "ssl3"'],
  ['tls-min-version 1.0 with a space', [...BASE, '--encrypt', 'on', '--tls-min-version', '1.0 '], ENV, 'not "1.0 "'],
  ['tls-min-version empty', [...BASE, '--encrypt', 'on', '--tls-min-version', ''], ENV, '--tls-min-version: needs a value'],
  ['tls-min-version twice', [...BASE, '--encrypt', 'on', '--tls-min-version', '1.0', '--tls-min-version', '1.1'], ENV, 'option --tls-min-version is given more than once'],
  ['tls-min-version with encrypt off', [...BASE, '--encrypt', 'off', '--tls-min-version', '1.0'], ENV, '--tls-min-version: needs --encrypt on or strict (with --encrypt off there is no TLS)'],
  ['tls-min-version 1.2 with encrypt off', [...BASE, '--encrypt', 'off', '--tls-min-version', '1.2'], ENV, 'needs --encrypt on or strict'],
  ['tls-min-version 1.3 with encrypt on', [...BASE, '--encrypt', 'on', '--tls-min-version', '1.3'], ENV, '--tls-min-version: TLS 1.3 needs --encrypt strict'],
  ['tls-min-version 1.0 with strict', [...BASE, '--encrypt', 'strict', '--tls-min-version', '1.0'], ENV, '--tls-min-version: 1.0 applies to --encrypt on only'],
  ['tls-min-version 1.1 with strict', [...BASE, '--encrypt', 'strict', '--tls-min-version', '1.1'], ENV, '1.1 applies to --encrypt on only'],
  ['log-file in a missing directory', [...BASE, '--log-file', '/nonexistent/dir/check.log'], ENV, '--log-file: /nonexistent/dir/check.log cannot be opened for appending (ENOENT)'],
  ['log-file a directory', [...BASE, '--log-file', '/tmp'], ENV, 'cannot be opened for appending (EISDIR)'],
  ['timeout 0', [...BASE, '--timeout', '0'], ENV, '--timeout: expected seconds greater than 0'],
  ['timeout negative', [...BASE, '-t', '-1'], ENV, 'not "-1"'],
  ['timeout non-numeric', [...BASE, '--timeout', 'abc'], ENV, 'not "abc"'],
  ['timeout too large', [...BASE, '--timeout', '301'], ENV, 'at most 300'],
  ['timeout exponent', [...BASE, '--timeout', '1e3'], ENV, 'not "1e3"'],
  ['timeout empty', [...BASE, '--timeout', ''], ENV, '--timeout: needs a value'],
  ['weight negative', [...BASE, '--weight', '-1'], ENV, '--weight: expected an integer 0..253'],
  ['weight 254', [...BASE, '--weight', '254'], ENV, 'not "254"'],
  ['weight fraction', [...BASE, '-w', '2.5'], ENV, 'not "2.5"'],
  ['weight non-numeric', [...BASE, '--weight', 'high'], ENV, 'not "high"'],
  ['max-lag with primary', [...BASE, '--max-lag', '10'], ENV, '--max-lag: applies to --role secondary, not primary'],
  ['max-lag negative', [...BASE, '--role', 'secondary', '--max-lag', '-5'], ENV, '--max-lag: expected seconds, 0 or more, not "-5"'],
  ['max-lag non-numeric', [...BASE, '--role', 'secondary', '--max-lag', 'x'], ENV, 'not "x"'],
  ['mirroring-state unknown', [...BASE, '--mirroring-state', 'SYNCED'], ENV, 'expected mirroring states from'],
  ['mirroring-state with secondary', [...BASE, '--role', 'secondary', '--mirroring-state', 'SYNCHRONIZED'], ENV, 'applies to --role primary or mirror, not secondary'],
  ['mirroring-state PENDING_FAILOVER with primary', [...BASE, '--mirroring-state', 'pending_failover'], ENV, 'never passes --role primary'],
  ['allow-standalone with secondary', [...BASE, '--role', 'secondary', '--allow-standalone'], ENV, '--allow-standalone: applies to --role primary, not secondary'],
  ['allow-standalone with online', [...BASE, '--role', 'online', '--allow-standalone'], ENV, 'applies to --role primary, not online'],
  ['allow-standalone with require-ha', [...BASE, '--allow-standalone', '--require-ha'], ENV, '--allow-standalone: --allow-standalone and --require-ha exclude each other'],
  ['allow-standalone with a value', [...BASE, '--allow-standalone=yes'], ENV, 'option --allow-standalone takes no value'],
  ['partner with mirror', [...BASE, '--role', 'mirror', '--partner', 'sqlb'], ENV, '--partner: applies to --role primary, not mirror'],
  ['partner empty', [...BASE, '--partner', ''], ENV, '--partner: needs a value'],
  ['partner with a bad port', [...BASE, '--partner', 'sqlb:0'], ENV, '--partner: expected a TCP port 1..65535 after the host, not "0"'],
  ['partner with a port too large', [...BASE, '--partner', 'sqlb:65536'], ENV, 'not "65536"'],
  ['partner with a non-numeric port', [...BASE, '--partner', 'sqlb:sql'], ENV, 'not "sql"'],
  ['partner IPv6 with a bad port', [...BASE, '--partner', '[::1]:x'], ENV, 'not "x"'],
  ['partner HOST\\INSTANCE', [...BASE, '--partner', 'sqlb\\PROD'], ENV, 'looks like HOST\\INSTANCE'],
  ['partner not a host', [...BASE, '--partner', 'sql b'], ENV, '"sql b" is not a host name or IP address'],
  ['partner a path', [...BASE, '--partner', '/tmp/sock'], ENV, 'is a path, not a host'],
  ['partner twice', [...BASE, '--partner', 'a', '--partner', 'b'], ENV, 'option --partner is given more than once'],
  ['no database', ['--host', 'h', '-U', 'm'], ENV, /^no database to check/],
  ['empty database', ['--host', 'h', '-U', 'm', '-d', ''], ENV, '--database: needs a database name'],
  ['database too long', ['--host', 'h', '-U', 'm', '-d', 'd'.repeat(129)], ENV, 'longer than 128 characters'],
  ['database with NUL', ['--host', 'h', '-U', 'm', '-d', 'a\0b'], ENV, 'contains a NUL character'],
  ['maintenance-file relative', [...BASE, '--maintenance-file', 'drain'], ENV, '--maintenance-file: needs an absolute path, not "drain"'],
  ['application-name too long', [...BASE, '--application-name', 'a'.repeat(129)], ENV, 'longer than 128'],
  ['unknown long option', [...BASE, '--hots', 'x'], ENV, 'unknown option --hots'],
  ['unknown long option with value', [...BASE, `--pasword=${SECRET}`], ENV, 'unknown option --pasword'],
  ['unknown short option', [...BASE, '-x'], ENV, 'unknown option -x'],
  ['unknown short in a cluster', [...BASE, '-vx'], ENV, 'unknown option -x'],
  ['negated flag', [...BASE, '--no-json'], ENV, 'unknown option --no-json'],
  ['flag with a value', [...BASE, '--json=yes'], ENV, 'option --json takes no value'],
  ['host twice', [...BASE, '--host', 'other'], ENV, 'option --host is given more than once'],
  ['password on the command line', [...BASE, '--password', SECRET], ENV, /^--password is not accepted on the command line .*--password-file.*MSSQL_PASSWORD.*--config/],
  ['password= on the command line', [...BASE, `--password=${SECRET}`], ENV, 'not accepted on the command line'],
  ['positional argument without HAProxy', [...BASE, SECRET], ENV, /^unexpected argument on the command line/],
  ['five positional arguments from HAProxy', [...BASE, 'a', 'b', 'c', 'd', 'e'], { ...ENV, HAPROXY_SERVER_ADDR: '10.0.0.1' }, /^too many arguments/],
  ['config with empty name', ['--config', ''], ENV, '--config needs a file name'],
];

for (const [label, argv, env, message] of BAD_OPTIONS) {
  test(`bad option: ${label}`, () => {
    const m = problem(argv, env);
    if (typeof message === 'string') assert.ok(m.includes(message), `${JSON.stringify(m)} lacks ${JSON.stringify(message)}`);
    else assert.match(m, message);
    assert.ok(!m.includes(SECRET), `the message repeats a secret: ${m}`);
    assert.ok(!m.includes('\n'), 'one line');
  });
}

test('ca-file checks: a PEM file is read, anything else refused', () => {
  const s = load([...BASE, '--encrypt', 'strict', '--ca-file', join(dir, 'ca.pem')], ENV);
  assert.match(s.ca!, /BEGIN CERTIFICATE/);
  assert.match(problem([...BASE, '--encrypt', 'on', '--ca-file', join(dir, 'not-a-ca.pem')], ENV), /holds no PEM certificate/);
});

// ---------------------------------------------------------------- good option values
test('good values: fractions, limits, aliases, IPv6 brackets, repeats', () => {
  assert.equal(load([...BASE, '--timeout', '.5'], ENV).timeoutMs, 500);
  assert.equal(load([...BASE, '-t', '0.25'], ENV).timeoutMs, 250);
  assert.equal(load([...BASE, '--timeout=300'], ENV).timeoutMs, 300_000);
  assert.equal(load([...BASE, '--port', '1'], ENV).port, 1);
  assert.equal(load([...BASE, '-p', '65535'], ENV).port, 65535);
  assert.equal(load([...BASE, '--weight', '0'], ENV).weight, 0);
  assert.equal(load([...BASE, '-w', '253'], ENV).weight, 253);
  assert.equal(load([...BASE, '--role', 'PRINCIPAL'], ENV).role, 'primary');
  assert.equal(load([...BASE, '-r', 'secondary', '--max-lag', '0'], ENV).maxLagSeconds, 0);
  assert.equal(load(['--host', '[fe80::1]', '-U', 'm', '-d', 'S'], ENV).host, 'fe80::1');
  assert.equal(load(['-H', '::1', '-U', 'm', '-d', 'S'], ENV).host, '::1');
  assert.equal(load(['-H', 'sql_01.corp', '-U', 'm', '-d', 'S'], ENV).host, 'sql_01.corp');
  const s = load(['-vH', 'h', '-U', 'm', '-d', 'A', '-d', '[B]', '--database=C D', '--json', '--mirroring-state', 'synchronized,SYNCHRONIZING', '--mirroring-state=SYNCHRONIZED'], ENV);
  assert.equal(s.verbose, true);
  assert.equal(s.json, true);
  assert.deepEqual(s.databases, ['A', '[B]', 'C D']);
  assert.deepEqual(s.mirroringStates, ['SYNCHRONIZED', 'SYNCHRONIZING']);
  const i = load([...BASE, '--instance', 'PROD'], ENV);
  assert.equal(i.instance, 'PROD');
  assert.equal(i.port, undefined);
  // --role primary requires mirroring or a group unless --allow-standalone; --require-ha says it again
  assert.equal(load(BASE, ENV).requireHa, true);
  assert.equal(load([...BASE, '--require-ha'], ENV).requireHa, true);
  const solo = load([...BASE, '--allow-standalone'], ENV);
  assert.equal(solo.requireHa, false);
  assert.equal(solo.allowStandalone, true);
  assert.equal(load([...BASE, '--role', 'online'], ENV).requireHa, false, '--role online: only when asked');
  // --partner: HOST[:PORT], [IPv6][:PORT]; without a port the check's own port or instance
  assert.deepEqual(load([...BASE, '--partner', 'sqlb'], ENV).partner, { host: 'sqlb', port: 1433, instance: undefined });
  assert.deepEqual(load([...BASE, '--port', '14330', '--partner', 'sqlb.example'], ENV).partner, { host: 'sqlb.example', port: 14330, instance: undefined });
  assert.deepEqual(load([...BASE, '--partner', '10.0.0.12:1444'], ENV).partner, { host: '10.0.0.12', port: 1444 });
  assert.deepEqual(load([...BASE, '--partner', '[fe80::2]:1444'], ENV).partner, { host: 'fe80::2', port: 1444 });
  assert.deepEqual(load([...BASE, '--partner', '[fe80::2]'], ENV).partner, { host: 'fe80::2', port: 1433, instance: undefined });
  assert.deepEqual(load([...BASE, '--partner', 'fe80::2'], ENV).partner, { host: 'fe80::2', port: 1433, instance: undefined });
  assert.deepEqual(load([...BASE, '--instance', 'PROD', '--partner', 'sqlb'], ENV).partner, { host: 'sqlb', port: undefined, instance: 'PROD' });
  assert.equal(load(BASE, ENV).partner, undefined);
  // after "--" nothing is an option (HAProxy's arguments could start with a dash)
  assert.equal(load([...BASE, '--', '-x'], { ...ENV, HAPROXY_SERVER_ADDR: '10.0.0.9' }).host, '10.0.0.11');
});

test('--tls-min-version: 1.2 unless given; each value with the --encrypt modes it fits, also from a config file', () => {
  assert.equal(load(BASE, ENV).tlsMinVersion, '1.2');
  assert.equal(load([...BASE, '--encrypt', 'on'], ENV).tlsMinVersion, '1.2');
  assert.equal(load([...BASE, '--encrypt', 'strict'], ENV).tlsMinVersion, '1.2');
  for (const v of ['1.0', '1.1', '1.2']) assert.equal(load([...BASE, '--encrypt', 'on', '--tls-min-version', v], ENV).tlsMinVersion, v);
  for (const v of ['1.2', '1.3']) assert.equal(load([...BASE, '--encrypt', 'strict', `--tls-min-version=${v}`], ENV).tlsMinVersion, v);
  const conf = join(dir, 'old-tls.conf');
  writeFileSync(conf, 'host = 10.0.0.11\nuser = m\ndatabase = S\nencrypt = on\ntrust-server-certificate = yes\ntls-min-version = 1.0\n', { mode: 0o600 });
  assert.equal(load(['--config', conf], ENV).tlsMinVersion, '1.0');
  assert.equal(load(['--config', conf, '--tls-min-version', '1.1'], ENV).tlsMinVersion, '1.1', 'the command line wins');
  const off = join(dir, 'old-tls-off.conf');
  writeFileSync(off, 'host = 10.0.0.11\nuser = m\ndatabase = S\nencrypt = off\ntls-min-version = 1.0\n', { mode: 0o600 });
  assert.match(problem(['--config', off], ENV), /old-tls-off\.conf.*tls-min-version.*needs --encrypt on or strict/);
});

test('--help and --version win without reading any config', () => {
  assert.equal(collect(['--help', '--config', '/nonexistent'], {}).help, true);
  assert.equal(collect(['-V'], {}).version, true);
});

// ---------------------------------------------------------------- precedence
test('precedence: command line > config file > environment > HAProxy > defaults', () => {
  const conf = configCopy('good', 'minimal.conf');
  // command line beats the file
  const a = load(['--config', conf, '--host', '10.9.9.9', '--database', 'Other'], { MSSQL_PASSWORD: 'env-pass', MSSQL_USER: 'envuser' });
  assert.equal(a.host, '10.9.9.9');
  assert.deepEqual(a.databases, ['Other'], 'a repeated option on the command line replaces the file\'s list');
  // the file beats the environment
  assert.equal(a.user, 'monitor');
  assert.equal(a.password, 's3cret-Pa55');
  // --password-file on the command line beats the file's password
  assert.equal(load(['--config', conf, '--password-file', join(dir, 'password')]).password, 'file-pass');
  // the environment fills what nothing else gives
  const b = load(['--host', 'h', '-d', 'S'], { MSSQL_PASSWORD: 'env-pass', MSSQL_USER: 'envuser' });
  assert.equal(b.user, 'envuser');
  assert.equal(b.password, 'env-pass');
  // MSSQL_ROLE_CHECK_CONFIG names the file when --config is absent; --config wins over it
  assert.equal(load([], { MSSQL_ROLE_CHECK_CONFIG: conf }).host, '10.0.0.11');
  const other = configCopy('good', 'crlf-secondary.conf');
  assert.equal(load(['--config', other], { MSSQL_ROLE_CHECK_CONFIG: conf }).host, '10.0.0.12');
  assert.match(problem([], { MSSQL_ROLE_CHECK_CONFIG: '/nonexistent.conf' }), /config file \/nonexistent\.conf does not exist/);
});

test('HAProxy: HAPROXY_SERVER_ADDR/PORT give host and port only when no host is given; its 4 arguments are accepted', () => {
  const hap = { ...ENV, HAPROXY_SERVER_ADDR: '10.1.1.1', HAPROXY_SERVER_PORT: '14333' };
  const args = ['-U', 'm', '-d', 'S'];
  const a = load([...args, '0.0.0.0', '1433', '10.1.1.1', '14333'], hap);
  assert.equal(a.host, '10.1.1.1');
  assert.equal(a.port, 14333);
  const b = load(['--host', '10.2.2.2', ...args], hap);
  assert.equal(b.host, '10.2.2.2');
  assert.equal(b.port, 1433, 'HAProxy\'s port belongs to HAProxy\'s server, not to --host');
  const c = load([...args, '--port', '2000'], hap);
  assert.equal(c.host, '10.1.1.1');
  assert.equal(c.port, 2000);
  const d = load([...args, '--instance', 'PROD'], hap);
  assert.equal(d.port, undefined);
  assert.equal(d.instance, 'PROD');
  const v6 = load(args, { ...ENV, HAPROXY_SERVER_ADDR: '::1', HAPROXY_SERVER_PORT: '1433' });
  assert.equal(v6.host, '::1');
  // a host or port in the config file (for runs by hand) never redirects HAProxy's check to another server
  const conf = join(dir, 'haproxy-with-host.conf');
  writeFileSync(conf, 'host = 10.9.9.9\nport = 1500\nuser = m\ndatabase = S\n', { mode: 0o600 });
  const e = load(['--config', conf, '0.0.0.0', '1433', '10.1.1.1', '14333'], hap);
  assert.equal(e.host, '10.1.1.1');
  assert.equal(e.port, 14333);
  const f = load(['--config', conf], { ...ENV, HAPROXY_SERVER_ADDR: '10.1.1.1' });
  assert.deepEqual([f.host, f.port], ['10.1.1.1', 1500], 'without HAPROXY_SERVER_PORT the file\'s port stays');
  // HAProxy says 0 for a server line without a port: the file's port stays
  assert.equal(load(['--config', conf], { ...ENV, HAPROXY_SERVER_ADDR: '10.1.1.1', HAPROXY_SERVER_PORT: '0' }).port, 1500);
  assert.equal(load(['--config', conf, '--host', '10.2.2.2'], hap).host, '10.2.2.2', 'the command line still wins');
  assert.deepEqual([load(['--config', conf], ENV).host, load(['--config', conf], ENV).port], ['10.9.9.9', 1500], 'no HAProxy: the file');
  assert.match(problem(args, { ...ENV, HAPROXY_SERVER_ADDR: '/var/run/sql.sock' }), /^HAPROXY_SERVER_ADDR: .* is a path/);
  assert.match(problem(args, { ...ENV, HAPROXY_SERVER_ADDR: '10.1.1.1', HAPROXY_SERVER_PORT: '0' }), /^HAPROXY_SERVER_PORT: expected a TCP port/);
});

test('binary: a bad option exits 1 with one line; --help and --version exit 0', () => {
  const bad = spawnSync(BIN_X64, ['--host', 'h', '--port', 'x'], { encoding: 'utf8', timeout: 20_000, env: {} });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'mssql-role-check: --port: expected a TCP port 1..65535, not "x"\n');
  const pw = spawnSync(BIN_X64, ['--password', SECRET], { encoding: 'utf8', timeout: 20_000, env: {} });
  assert.equal(pw.status, 1);
  assert.ok(!pw.stderr.includes(SECRET));
  const help = spawnSync(BIN_X64, ['--help'], { encoding: 'utf8', timeout: 20_000, env: {} });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: mssql-role-check \[OPTION\]\.\.\./);
  for (const name of ['--host', '--port', '--instance', '--database', '--role', '--user', '--password-file', '--config', '--domain',
    '--encrypt', '--trust-server-certificate', '--ca-file', '--tls-min-version', '--timeout', '--weight', '--mirroring-state', '--max-lag',
    '--require-ha', '--allow-standalone', '--partner', '--maintenance-file', '--application-name', '--verbose', '--json', '--log-file', '--version', '--help']) {
    assert.ok(help.stdout.includes(name), `--help documents ${name}`);
  }
  assert.match(help.stdout, /Exit status:\n {2}0 /);
  assert.match(help.stdout, /MISC_CHECK/);
  assert.match(help.stdout, /vrrp_script/);
  assert.match(help.stdout, /mssql-role-check serve \[--config FILE\]/, '--help names the daemon');
});
