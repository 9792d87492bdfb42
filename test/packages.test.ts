// The distribution packages: `make packages` builds the .deb and .rpm for both architectures;
// lintian and rpm judge them; the x64 packages are installed into scratch roots and the installed
// binary runs; the man page renders without warnings; the examples parse with the real keepalived
// and HAProxy; the binaries need no glibc newer than 2.28, as the packages declare.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync, mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, BIN_X64, BIN_ARM64 } from './helpers/paths.ts';
import { OPTIONS } from '../src/cli-spec.ts';
import { keepalivedConfigTest } from './helpers/check-user.ts';

const NAME = 'mssql-role-check';
const version: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const nodeVersion = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(ROOT, 'build/toolchain.env'), 'utf8'))![1];
const VERSION_LINE = `${NAME} ${version} (node ${nodeVersion})`;
const dist = (f: string) => join(ROOT, 'dist', f);
const DEB = { amd64: dist(`${NAME}_${version}_amd64.deb`), arm64: dist(`${NAME}_${version}_arm64.deb`) };
const RPM = { x86_64: dist(`${NAME}-${version}-1.x86_64.rpm`), aarch64: dist(`${NAME}-${version}-1.aarch64.rpm`) };
const EXAMPLES = readdirSync(join(ROOT, 'doc/examples')).sort();
const CONF = `/etc/${NAME}/${NAME}.conf`;
/** the daemon's example config, shipped beside where serve.conf goes (the unit waits for that file) */
const SERVE_EXAMPLE = `/etc/${NAME}/serve.conf.example`;
const UNIT = `${NAME}.service`;

interface Result { status: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run and insist on exit 0; the output goes into the failure message. */
function ok(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** "2.28" < "2.3" is false: compare dotted numbers field by field. */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function maxVersion(versions: string[]): string {
  return [...versions].sort(compareVersions).at(-1) ?? '0';
}

/** The symbol versions a binary needs, by prefix: GLIBC → ["2.2.5", ..., "2.28"]. */
function neededVersions(binary: string): Map<string, string[]> {
  const out = ok('objdump', ['-T', binary]);
  const needed = new Map<string, string[]>();
  for (const m of out.matchAll(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_(\d+(?:\.\d+)*)\b/g)) {
    needed.set(m[1], [...new Set([...(needed.get(m[1]) ?? []), m[2]])]);
  }
  return needed;
}

// test/systemd-unit.test.ts builds two of the packages too, maybe at the same time: one make at a time.
const PACKAGES_LOCK = join(ROOT, 'dist/.packages.lock');

/** `make packages` once for the whole file (it does nothing when the packages are up to date). */
before(() => {
  const r = run('flock', [PACKAGES_LOCK, 'make', 'packages'], { cwd: ROOT, timeout: 20 * 60_000 });
  assert.equal(r.status, 0, `make packages failed:\n${r.stdout}${r.stderr}`);
  for (const f of [...Object.values(DEB), ...Object.values(RPM)]) {
    assert.ok(existsSync(f), `make packages did not make ${f}`);
    console.log(`# ${f.slice(ROOT.length)}: ${(statSync(f).size / 1e6).toFixed(1)} MB`);
  }
}, { timeout: 20 * 60_000 });

const USER = NAME; // the system user and group the packages create for the check

/** The uid and gid of the check's system user in a root's /etc/passwd (a scratch root's, here). */
function checkUser(root: string): { uid: number; gid: number } {
  const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${USER}:`));
  assert.ok(line, `no system user ${USER} in ${root}/etc/passwd:\n${passwd}`);
  const [, , uid, gid, , , shell] = line.split(':').map((f, i) => (i === 2 || i === 3 ? Number(f) : f)) as [string, string, number, number, string, string, string];
  assert.match(shell, /\/nologin$/, `${USER} has no login shell`);
  assert.match(readFileSync(join(root, 'etc/group'), 'utf8'), new RegExp(`^${USER}:[^:]*:${gid}:`, 'm'), 'its group');
  return { uid, gid };
}

/**
 * The x64 binary installed under root is dist/'s and runs; its conffile is root:mssql-role-check
 * 0640, and the check, run as that unprivileged user, accepts it and gets as far as the network.
 */
async function assertInstalled(root: string): Promise<string> {
  const installed = join(root, `usr/bin/${NAME}`);
  assert.equal(sha256(installed), sha256(BIN_X64), 'the packaged binary differs from dist/ (stripped or changed?)');
  assert.equal(ok(installed, ['--version'], { env: {} }).trim(), VERSION_LINE);
  const user = checkUser(root);
  const conf = statSync(join(root, CONF.slice(1)));
  assert.equal(conf.mode & 0o777, 0o640, 'the conffile must be mode 0640');
  assert.deepEqual([conf.uid, conf.gid], [0, user.gid], `the conffile must be root:${USER}`);
  assert.ok(user.uid > 0 && user.uid < 1000, `${USER} is a system user (uid ${user.uid})`);

  chmodSync(root, 0o755); // mkdtemp made it 0700: let the unprivileged user reach the files
  const port = await closedPort();
  const check = run('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', installed,
    '-c', join(root, CONF.slice(1)), '-H', '127.0.0.1', '-p', String(port), '--json'],
  { env: { MSSQL_PASSWORD: 'not-a-real-password' }, timeout: 30_000 });
  assert.equal(check.status, 1, check.stderr);
  const verdict = JSON.parse(check.stdout);
  assert.equal(verdict.errorCode, 'ESOCKET', `as ${USER}, the installed config file is accepted: ${check.stdout}${check.stderr}`);
  assert.deepEqual(verdict.databases.map((d: { name: string }) => d.name), ['AppDb'], check.stdout);
  return installed;
}

/** Empty account files, as a base system has, for the maintainer scripts to add the user to. */
function accountFiles(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  writeFileSync(join(root, 'etc/gshadow'), 'root:*::\n', { mode: 0o640 });
}

test('SHA256SUMS keeps the binaries and lists the four packages, and verifies', () => {
  const sums = readFileSync(dist('SHA256SUMS'), 'utf8');
  for (const f of [BIN_X64, BIN_ARM64, ...Object.values(DEB), ...Object.values(RPM)]) {
    const base = f.slice(f.lastIndexOf('/') + 1);
    assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${base.replaceAll('.', '\\.')}$`, 'm'), `SHA256SUMS lacks ${base}`);
  }
  const out = ok('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(ROOT, 'dist') });
  assert.equal(out.trim().split('\n').length, 6, out);
});

test('a second make packages with nothing changed has no work to do', () => {
  const r = run('flock', [PACKAGES_LOCK, 'make', '-q', 'packages'], { cwd: ROOT });
  assert.equal(r.status, 0, `make -q packages says something is out of date:\n${r.stdout}${r.stderr}`);
});

test('the binaries need no glibc newer than 2.28, and the .deb declares what they need', () => {
  // The first GCC release whose libstdc++ has each symbol version (libstdc++6 is versioned by GCC).
  const GCC_OF: Record<string, number> = {
    'GLIBCXX_3.4.21': 5, 'GLIBCXX_3.4.22': 6, 'GLIBCXX_3.4.23': 7, 'GLIBCXX_3.4.24': 7, 'GLIBCXX_3.4.25': 8,
    'GLIBCXX_3.4.26': 9, 'CXXABI_1.3.9': 5, 'CXXABI_1.3.10': 6, 'CXXABI_1.3.11': 7, 'CXXABI_1.3.12': 9,
  };
  for (const [arch, binary] of [['amd64', BIN_X64], ['arm64', BIN_ARM64]] as const) {
    const needed = neededVersions(binary);
    const glibc = maxVersion(needed.get('GLIBC') ?? []);
    assert.ok(compareVersions(glibc, '2.0') > 0, `${binary}: objdump -T found no GLIBC versions`);
    assert.ok(compareVersions(glibc, '2.28') <= 0, `${binary} needs GLIBC_${glibc}, newer than the 2.28 floor`);

    const depends = ok('dpkg-deb', ['-f', DEB[arch], 'Depends']).trim();
    const libc = /\blibc6 \(>= ([\d.]+)\)/.exec(depends);
    assert.ok(libc, `Depends has no libc6 version: ${depends}`);
    assert.ok(compareVersions(libc[1], glibc) >= 0, `Depends says libc6 >= ${libc[1]} but ${binary} needs ${glibc}`);
    assert.ok(compareVersions(libc[1], '2.28') <= 0, `Depends asks for libc6 ${libc[1]}, above the 2.28 floor`);

    const stdcxx = /\blibstdc\+\+6 \(>= (\d+)\)/.exec(depends);
    assert.ok(stdcxx, `Depends has no libstdc++6 version: ${depends}`);
    const cxx = [...(needed.get('GLIBCXX') ?? []).map((v) => `GLIBCXX_${v}`), ...(needed.get('CXXABI') ?? []).map((v) => `CXXABI_${v}`)];
    for (const v of cxx) {
      const [kind, num] = v.split('_');
      const old = kind === 'GLIBCXX' ? compareVersions(num, '3.4.20') <= 0 : compareVersions(num, '1.3.8') <= 0;
      if (old) continue; // GCC 4.9 or older
      assert.ok(v in GCC_OF, `${binary} needs ${v}: add it to the table here and check libstdc++6 in build/deb/control.in`);
      assert.ok(GCC_OF[v] <= Number(stdcxx[1]), `${binary} needs ${v} (GCC ${GCC_OF[v]}) but Depends says libstdc++6 >= ${stdcxx[1]}`);
    }
    const gcc = maxVersion(needed.get('GCC') ?? []);
    const libgcc = /\blibgcc-s1 \(>= ([\d.]+)\)/.exec(depends);
    assert.ok(libgcc && compareVersions(libgcc[1], gcc) >= 0, `${binary} needs GCC_${gcc} of libgcc_s; Depends: ${depends}`);
  }
});

test('lintian finds no errors or warnings in either .deb (the overrides say why)', { timeout: 10 * 60_000 }, () => {
  // --fail-on counts overridden tags when --show-overrides is on, so judge the printed tags.
  const r = run('lintian', ['--fail-on', 'none', '--show-overrides', DEB.amd64, DEB.arm64], { timeout: 10 * 60_000 });
  const report = r.stdout.trim();
  console.log(report.split('\n').map((l) => `# lintian: ${l}`).join('\n'));
  assert.equal(r.status, 0, `lintian could not run:\n${r.stdout}${r.stderr}`);
  assert.doesNotMatch(report, /^[EW]: /m, report);
  // Proof that both packages were examined: the binary's overridden tag is reported for each.
  const seen = report.match(/^O: mssql-role-check: unstripped-binary-or-object \[usr\/bin\/mssql-role-check\]$/gm) ?? [];
  assert.equal(seen.length, 2, `expected lintian to report on both binaries:\n${report}`);
});

for (const [arch, file] of Object.entries(DEB)) {
  test(`.deb ${arch}: control fields, file list, modes and the conffile`, () => {
    const field = (f: string) => ok('dpkg-deb', ['-f', file, f]).trim();
    assert.equal(field('Package'), NAME);
    assert.equal(field('Version'), version);
    assert.equal(field('Architecture'), arch);
    assert.match(field('Depends'), /^libc6 \(>= [\d.]+\), libgcc-s1 \(>= [\d.]+\) \| libgcc1 \(>= 1:[\d.]+\), libstdc\+\+6 \(>= \d+\)$/);

    const listing = ok('dpkg-deb', ['-c', file]);
    const files = new Map<string, string>();
    for (const line of listing.trim().split('\n')) {
      const [perms, owner, , , , path] = line.split(/\s+/);
      assert.equal(owner, 'root/root', `${path} is owned by ${owner}`);
      if (perms.startsWith('-')) files.set(path.replace(/^\.\//, '/'), perms);
    }
    const doc = `/usr/share/doc/${NAME}`;
    const want = new Map<string, string>([
      [`/usr/bin/${NAME}`, '-rwxr-xr-x'],
      [CONF, '-rw-r-----'],
      [SERVE_EXAMPLE, '-rw-r--r--'],
      [`/lib/systemd/system/${UNIT}`, '-rw-r--r--'],
      [`/usr/share/man/man1/${NAME}.1.gz`, '-rw-r--r--'],
      [`${doc}/README.md`, '-rw-r--r--'],
      [`${doc}/changelog.gz`, '-rw-r--r--'],
      [`${doc}/copyright`, '-rw-r--r--'],
      [`/usr/share/lintian/overrides/${NAME}`, '-rw-r--r--'],
      ...EXAMPLES.map((e) => [`${doc}/examples/${e}`, '-rw-r--r--'] as [string, string]),
    ]);
    assert.deepEqual(new Map([...files].sort()), new Map([...want].sort()));

    const control = scratch('deb-control');
    try {
      ok('dpkg-deb', ['-e', file, control]);
      assert.equal(readFileSync(join(control, 'conffiles'), 'utf8'), `${CONF}\n${SERVE_EXAMPLE}\n`);
      for (const script of ['postinst', 'prerm', 'postrm']) assert.equal(statSync(join(control, script)).mode & 0o777, 0o755, script);
      const postinst = readFileSync(join(control, 'postinst'), 'utf8');
      assert.match(postinst, /groupadd --system/);
      assert.match(postinst, /useradd --system/);
      // the daemon's unit is made known, never enabled or started by the package
      assert.match(postinst, /deb-systemd-helper update-state "\$name\.service"/);
      assert.doesNotMatch(postinst, /deb-systemd-helper enable|systemctl (--system )?(enable|start)|deb-systemd-invoke start/);
      assert.match(readFileSync(join(control, 'prerm'), 'utf8'), /deb-systemd-invoke stop "\$name\.service"/);
      assert.match(readFileSync(join(control, 'md5sums'), 'utf8'), new RegExp(`^[0-9a-f]{32}  lib/systemd/system/${UNIT.replace('.', '\\.')}$`, 'm'));
      const md5 = readFileSync(join(control, 'md5sums'), 'utf8');
      assert.match(md5, new RegExp(`^[0-9a-f]{32}  usr/bin/${NAME}$`, 'm'));
    } finally {
      rmSync(control, { recursive: true, force: true });
    }
  });
}

test('.deb amd64 installs into a scratch root with dpkg --root; the installed binary runs', { timeout: 5 * 60_000 }, async () => {
  assert.equal(process.getuid?.(), 0, 'dpkg --root must run as root (as in CI)');
  const root = scratch('deb-root');
  try {
    const admin = join(root, 'var/lib/dpkg');
    for (const d of ['info', 'updates', 'triggers']) mkdirSync(join(admin, d), { recursive: true });
    writeFileSync(join(admin, 'status'), '');
    writeFileSync(join(admin, 'available'), '');
    // The scratch root has no libc6 package; the host's libraries run the binary. It has no shell
    // either: the postinst runs on the host against the scratch root ($DPKG_ROOT), as
    // --force-script-chrootless does it.
    accountFiles(root);
    const dpkg = (...args: string[]) => ok('dpkg', [`--root=${root}`, `--log=${join(root, 'dpkg.log')}`, '--force-depends',
      '--force-script-chrootless', ...args], { timeout: 5 * 60_000 });
    dpkg('-i', DEB.amd64);
    const status = dpkg('-s', NAME);
    assert.match(status, /^Status: install ok installed$/m);
    assert.match(status, new RegExp(`^Conffiles:\\n ${CONF} [0-9a-f]{32}$`, 'm'));

    const installed = await assertInstalled(root);
    // A second configure (an upgrade, a reinstall) adds no second user and keeps the group.
    dpkg('-i', DEB.amd64);
    assert.equal(readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').filter((l) => l.startsWith(`${USER}:`)).length, 1);
    assert.equal(statSync(join(root, CONF.slice(1))).gid, checkUser(root).gid);

    const page = ok('man', ['--warnings', '-l', join(root, `usr/share/man/man1/${NAME}.1.gz`)], { env: { ...process.env, MANWIDTH: '80' } });
    assert.match(page, /^NAME\n\s+mssql-role-check - /m);

    // Removing keeps the (possibly edited) conffile; purging removes it.
    dpkg('-r', NAME);
    assert.ok(!existsSync(installed), 'dpkg -r left the binary');
    assert.ok(existsSync(join(root, CONF.slice(1))), 'dpkg -r must keep the conffile');
    dpkg('--purge', NAME);
    assert.ok(!existsSync(join(root, CONF.slice(1))), 'dpkg --purge must remove the conffile');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('.deb arm64 holds the arm64 binary unchanged, which runs under qemu', { timeout: 5 * 60_000 }, () => {
  const root = scratch('deb-arm64');
  try {
    ok('dpkg-deb', ['-x', DEB.arm64, root]);
    const installed = join(root, `usr/bin/${NAME}`);
    assert.equal(sha256(installed), sha256(BIN_ARM64));
    assert.equal(ok('qemu-aarch64-static', [installed, '--version'], { env: {}, timeout: 120_000 }).trim(), VERSION_LINE);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

for (const [arch, file] of Object.entries(RPM)) {
  test(`.rpm ${arch}: header, file list, modes, conffile and requirements`, () => {
    const q = (format: string) => ok('rpm', ['-qp', '--nosignature', '--qf', format, file]);
    assert.equal(q('%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}'), `${NAME} ${version} 1 ${arch} MIT`);
    const info = ok('rpm', ['-qip', '--nosignature', file]);
    assert.match(info, /^Summary\s+: \S.*$/m);

    const files = new Map<string, string>();
    for (const line of q('[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEUSERNAME}:%{FILEGROUPNAME}\t%{FILEFLAGS:fflags}\n]').trim().split('\n')) {
      const [path, perms, owner, flags] = line.split('\t');
      assert.equal(owner, path === CONF ? `root:${USER}` : 'root:root', `${path} is owned by ${owner}`);
      files.set(path, `${perms} ${flags}`);
    }
    const doc = `/usr/share/doc/${NAME}`;
    const lic = `/usr/share/licenses/${NAME}`;
    const want = new Map<string, string>([
      [`/etc/${NAME}`, 'drwxr-xr-x '],
      [CONF, '-rw-r----- cn'],
      [SERVE_EXAMPLE, '-rw-r--r-- cn'],
      [`/usr/lib/systemd/system/${UNIT}`, '-rw-r--r-- '],
      [`/usr/bin/${NAME}`, '-rwxr-xr-x '],
      [`/usr/share/man/man1/${NAME}.1.gz`, '-rw-r--r-- d'],
      [doc, 'drwxr-xr-x '],
      [`${doc}/README.md`, '-rw-r--r-- d'],
      [`${doc}/CHANGELOG.md`, '-rw-r--r-- d'],
      [`${doc}/examples`, 'drwxr-xr-x '],
      ...EXAMPLES.map((e) => [`${doc}/examples/${e}`, '-rw-r--r-- d'] as [string, string]),
      [lic, 'drwxr-xr-x '],
      [`${lic}/LICENSE`, '-rw-r--r-- l'],
      [`${lic}/copyright`, '-rw-r--r-- l'],
    ]);
    assert.deepEqual(new Map([...files].sort()), new Map([...want].sort()));
    assert.equal(ok('rpm', ['-qcp', '--nosignature', file]).trim(), `${CONF}\n${SERVE_EXAMPLE}`);
    // the daemon's unit: never enabled or started by the package; stopped and disabled on erase
    const scripts = ok('rpm', ['-qp', '--scripts', '--nosignature', file]);
    assert.doesNotMatch(scripts, /systemctl (enable|start|preset)/, scripts);
    assert.match(scripts, /systemctl --no-reload disable --now mssql-role-check\.service/, scripts);

    // Requirements are generated from the binary: only libc, libstdc++ and libgcc_s sonames.
    const requires = ok('rpm', ['-qp', '--requires', '--nosignature', file]).trim().split('\n');
    const allowed = /^(\/bin\/sh|shadow-utils|config\(mssql-role-check\) = .*|(ld-linux-(x86-64|aarch64)\.so\.[12]|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|libstdc\+\+\.so\.6|libgcc_s\.so\.1)\(.*\)\(64bit\)|rtld\(GNU_HASH\)|rpmlib\(.*)$/;
    assert.deepEqual(requires.filter((r) => !allowed.test(r)), [], 'unexpected requirements');
    const glibc = requires.map((r) => /^libc\.so\.6\(GLIBC_([\d.]+)\)/.exec(r)?.[1]).filter((v) => v !== undefined);
    assert.equal(maxVersion(glibc), '2.28', `highest GLIBC requirement: ${maxVersion(glibc)}`);
  });
}

/** Installs one .rpm into a fresh scratch root as root, hands over an rpm runner for that root, cleans up. */
async function withRpmRoot(label: string, file: string, extra: string[], body: (root: string, rpm: (...args: string[]) => string) => void | Promise<void>): Promise<void> {
  assert.equal(process.getuid?.(), 0, 'rpm --root must run as root (as in CI)');
  const root = scratch(label);
  try {
    const rpm = (...args: string[]) => ok('rpm', [`--root=${root}`, '--nosignature', ...args], { timeout: 5 * 60_000 });
    rpm('--initdb');
    // The scratch root has no shell for %pre: its work (the system user and group) is done here
    // with the same commands, then rpm resolves %attr's group in the root's /etc/group.
    accountFiles(root);
    const pre = ok('rpm', ['-qp', '--scripts', '--nosignature', file]);
    assert.match(pre, /groupadd -r mssql-role-check/);
    assert.match(pre, /useradd -r -g mssql-role-check -d \/ -M/);
    ok('groupadd', ['--system', '--prefix', root, USER]);
    ok('useradd', ['--system', '--prefix', root, '--gid', USER, '--home-dir', '/', '--no-create-home', '--shell', '/sbin/nologin', USER]);
    rpm('-i', '--nodeps', '--noscripts', ...extra, file);
    await body(root, rpm);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('.rpm x86_64 installs into a scratch root with rpm --root; the installed binary runs', { timeout: 5 * 60_000 }, async () => {
  await withRpmRoot('rpm-root', RPM.x86_64, [], async (root, rpm) => {
    assert.equal(rpm('-q', NAME).trim(), `${NAME}-${version}-1.x86_64`);
    assert.equal(rpm('-qc', NAME).trim(), `${CONF}\n${SERVE_EXAMPLE}`);
    await assertInstalled(root);
    const verify = run('rpm', [`--root=${root}`, '-V', '--nodeps', NAME]);
    assert.equal(verify.status, 0, `rpm -V found changes:\n${verify.stdout}${verify.stderr}`);
  });
});

test('.rpm aarch64 installs (ignoring the host architecture) with the arm64 binary unchanged', { timeout: 5 * 60_000 }, async () => {
  await withRpmRoot('rpm-arm64', RPM.aarch64, ['--ignorearch'], (root, rpm) => {
    assert.equal(rpm('-q', NAME).trim(), `${NAME}-${version}-1.aarch64`);
    assert.equal(sha256(join(root, `usr/bin/${NAME}`)), sha256(BIN_ARM64));
  });
});

test('the man page renders with no warnings and documents every option, exit code and variable', () => {
  const r = run('man', ['--warnings', '-l', dist(`${NAME}.1`)], { env: { ...process.env, MANWIDTH: '80', LANG: 'C.UTF-8' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', `man --warnings complained:\n${r.stderr}`);
  const page = r.stdout;
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'ROLES', 'CONFIGURATION FILE', 'EXIT STATUS',
    'ENVIRONMENT', 'FILES', 'SECURITY', 'EXAMPLES', 'SEE ALSO']) {
    assert.match(page, new RegExp(`^${section}$`, 'm'), `no ${section} section`);
  }
  for (const o of OPTIONS) {
    const shown = o.configOnly ? `${o.name} = ` : `--${o.name}`;
    assert.ok(page.includes(shown), `the man page does not document ${shown}`);
  }
  for (const v of ['MSSQL_PASSWORD', 'MSSQL_ROLE_CHECK_CONFIG', 'HAPROXY_SERVER_ADDR', 'HAPROXY_SERVER_PORT']) {
    assert.match(page, new RegExp(`^\\s+${v}$`, 'm'), `ENVIRONMENT lacks ${v}`);
  }
  assert.match(page, /keepalived\.conf\(5\)/);
  assert.match(page, /haproxy\(1\)/);
  assert.match(page, /misc_dynamic/);
  assert.match(page, /vrrp_script chk_mssql/);
  assert.match(page, /external-check command/);
  assert.ok(page.includes(`${NAME} ${version}`), 'the footer names the version');
  // Options and paths must copy and paste: ASCII hyphens, no typographic dashes or quotes.
  assert.doesNotMatch(page, /[\u2010\u2011\u2212\u2018\u2019]/u, 'typographic hyphen, minus or quote in the page');
});

test('the examples use only real options and settings, and keepalived and HAProxy accept them', { timeout: 2 * 60_000 }, () => {
  const longs = new Set(OPTIONS.filter((o) => !o.configOnly).map((o) => `--${o.name}`));
  const shorts = new Set(OPTIONS.filter((o) => o.short).map((o) => `-${o.short}`));
  for (const e of EXAMPLES) {
    const text = readFileSync(join(ROOT, 'doc/examples', e), 'utf8');
    for (const m of text.matchAll(/\/usr\/bin\/mssql-role-check([^"\n]*)/g)) {
      for (const word of m[1].trim().split(/\s+/).filter((w) => w.startsWith('-'))) {
        const opt = word.split('=')[0];
        assert.ok(longs.has(opt) || shorts.has(opt), `${e}: unknown option ${opt}`);
      }
    }
  }
  // Every setting in the example config file, set or commented out, is a real config key.
  const keys = new Set<string>(OPTIONS.filter((o) => !o.cliOnly).map((o) => o.name));
  const conf = readFileSync(join(ROOT, `doc/examples/${NAME}.conf`), 'utf8');
  const settings = [...conf.matchAll(/^#? ?([a-z-]+) = \S/gm)].map((m) => m[1]);
  assert.ok(settings.length >= 5, `too few settings found in the example config: ${settings}`);
  for (const s of settings) assert.ok(keys.has(s), `${NAME}.conf: ${s} is not a config-file setting`);
  assert.match(conf, /^# password = /m, 'the password line is commented out');

  // keepalived -t and haproxy -c with the binary path pointing at a real executable.
  const dir = scratch('examples');
  try {
    const bin = join(dir, NAME);
    writeFileSync(bin, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const wrapper = join(dir, 'haproxy-mssql-check');
    const at = (text: string) => text.replaceAll(`/usr/bin/${NAME}`, bin).replaceAll('/usr/local/bin/haproxy-mssql-check', wrapper);
    writeFileSync(wrapper, at(readFileSync(join(ROOT, 'doc/examples/haproxy-mssql-check'), 'utf8')), { mode: 0o755 });
    ok('sh', ['-n', wrapper]);
    for (const e of EXAMPLES.filter((x) => x.startsWith('keepalived-'))) {
      const file = join(dir, e);
      writeFileSync(file, at(readFileSync(join(ROOT, 'doc/examples', e), 'utf8')));
      const r = keepalivedConfigTest(file, dir);
      assert.equal(r.status, 0, `keepalived -t rejects ${e}:\n${r.output}`);
      assert.equal(r.output, '', `keepalived -t warns about ${e}:\n${r.output}`);
    }
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, at(readFileSync(join(ROOT, 'doc/examples/haproxy.cfg'), 'utf8')));
    ok('haproxy', ['-c', '-f', cfg]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
