// The daemon's unit (build/systemd/mssql-role-check.service) under a real systemd as PID 1: a
// container booted with systemd-nspawn on a throwaway copy of this machine's root (an overlay whose
// lower layer is / and whose upper layer is a tmpfs), the project's .deb installed into it with dpkg
// (its postinst makes the user), serve.conf without a password and serve.password (root's, 0600)
// written, so only LoadCredential= can hand the daemon its password. The container shares the
// host's network: the daemon reaches sqlsim on 127.0.0.1 and the test reaches the daemon.
// systemctl runs inside the container through nsenter (no machined here). What test/systemd-unit
// can only read off the unit is exercised here: User=, LoadCredential=, ProtectSystem=strict,
// PrivateTmp=, PrivateUsers=, reload, stop, ConditionPathExists=.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync, existsSync, rmSync, readdirSync, chmodSync, rmdirSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from './helpers/paths.ts';
import { tempDir, freePort } from './peers/harness.ts';
import { startMirroredPair, type MirroredPair } from './sqlsim/server.ts';
import { scenarioFile } from './sqlsim/scenarios.ts';
import { configFor, request, MONITOR_PASSWORD } from './serve/daemon.ts';

const NAME = 'mssql-role-check';
const UNIT = `${NAME}.service`;
const version: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const DEB = join(ROOT, `dist/${NAME}_${version}_amd64.deb`);
/** the only target the container boots: what the daemon's unit needs and nothing of the host's */
const TARGET = 'mrc-boot.target';
/** the host's daemons: they would bind the shared network's ports if anything pulled them in */
const MASK = ['haproxy.service', 'keepalived.service', 'prometheus.service', 'postgresql.service', 'postgresql@.service',
  'getty@.service', 'console-getty.service', 'apt-daily.timer', 'apt-daily-upgrade.timer', 'man-db.timer', 'e2scrub_all.timer',
  'fstrim.timer', 'dpkg-db-backup.timer', 'systemd-timesyncd.service', 'systemd-pstore.service'];
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', TERM: 'dumb' };

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { status: number | null; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 << 20, env: ENV, ...opts });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: String(r.stdout) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** a deadline for a race that must not keep the process alive once the race is won */
const deadline = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

let tmp: ReturnType<typeof tempDir> | undefined;
let layer = '';
let root = '';
/** cgroups the container is started in, one per hierarchy, removed at the end */
const cgroups: string[] = [];
const machine = `mrc-${randomBytes(4).toString('hex')}`;
let nspawn: ChildProcess | undefined;
let nspawnExit: Promise<void> | undefined;
let nspawnLog = '';
let leader = 0;
let pair: MirroredPair | undefined;
let port = 0;
let skip = '';
const times: Record<string, number> = {};

/** a command inside the container, in all of PID 1's namespaces */
const inside = (args: string[], opts: SpawnSyncOptions = {}) => run('nsenter', ['--target', String(leader), '--all', '--', ...args], opts);
const systemctl = (...args: string[]) => inside(['systemctl', '--no-pager', ...args]);
function show(...props: string[]): Record<string, string> {
  const r = systemctl('show', UNIT, ...props.map((p) => `--property=${p}`));
  assert.equal(r.status, 0, r.out);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
const journal = () => inside(['journalctl', '--no-pager', '-o', 'cat', '-u', UNIT]).out;
const conf = () => join(root, `etc/${NAME}/serve.conf`);

function writeConfig(swap: boolean): void {
  const [a, b] = swap ? [pair!.servers[1], pair!.servers[0]] : [pair!.servers[0], pair!.servers[1]];
  const text = configFor({ sql1: { port: a.port }, sql2: { port: b.port } }, 'interval = 0.5\n')
    .replace(`password = ${MONITOR_PASSWORD}\n`, '').replace('listen = 127.0.0.1:0', `listen = 127.0.0.1:${port}`);
  assert.doesNotMatch(text, /password/, 'the config must hold no password: only the credential may supply it');
  // as the README has the operator write it: root:mssql-role-check 0640
  writeFileSync(conf(), text);
  const gid = /^mssql-role-check:[^:]*:(\d+):/m.exec(readFileSync(join(root, 'etc/group'), 'utf8'))![1];
  run('chown', [`0:${gid}`, conf()]);
  chmodSync(conf(), 0o640);
}

/** why the machine cannot boot the container, or '' */
function missing(): string {
  if (process.getuid?.() !== 0) return 'not root (mounts and systemd-nspawn need root)';
  if (run('sh', ['-c', 'command -v systemd-nspawn']).status !== 0) return 'no systemd-nspawn (Debian package systemd-container; make deps installs it)';
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'the kernel has no overlayfs';
  return '';
}

function mounted(): string[] {
  if (!tmp) return [];
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(tmp!.dir));
}

before(async () => {
  skip = missing();
  if (skip) return;
  // one make at a time: test/packages.test.ts may be making the packages at the same moment
  const made = run('flock', [join(ROOT, 'dist/.packages.lock'), 'make', DEB.slice(ROOT.length)], { cwd: ROOT, timeout: 20 * 60_000, env: process.env });
  assert.equal(made.status, 0, `make of the amd64 .deb failed:\n${made.out}`);
  pair = await startMirroredPair({ principal: scenarioFile('principal'), mirror: scenarioFile('mirror'), host: '127.0.0.1' });
  port = await freePort();

  // the root tree: this machine's / under a tmpfs upper layer; costs nothing and vanishes at umount
  tmp = tempDir('mrc-nspawn');
  layer = join(tmp.dir, 'layer');
  root = join(tmp.dir, 'root');
  mkdirSync(layer);
  mkdirSync(root);
  let r = run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'mrc-nspawn', layer]);
  assert.equal(r.status, 0, r.out);
  mkdirSync(join(layer, 'upper'));
  mkdirSync(join(layer, 'work'));
  r = run('mount', ['-t', 'overlay', '-o', `lowerdir=/,upperdir=${layer}/upper,workdir=${layer}/work`, 'mrc-nspawn', root]);
  if (r.status !== 0) { skip = `overlayfs over / would not mount: ${r.out.trim()}`; return; }
  // the mount points of the host's other file systems are empty directories in the lower layer
  if (!existsSync(join(root, 'dev/null'))) run('mknod', ['-m', '0666', join(root, 'dev/null'), 'c', '1', '3']);
  writeFileSync(join(root, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);

  // the real package, installed as an operator would, in a chroot: its postinst makes the user
  copyFileSync(DEB, join(root, 'root/pkg.deb'));
  // man-db's trigger would reindex every manual page of the host's tree (seconds): not under test
  rmSync(join(root, 'var/lib/man-db/auto-update'), { force: true });
  const d0 = performance.now();
  r = run('chroot', [root, 'dpkg', '-i', '/root/pkg.deb'], { timeout: 120_000 });
  assert.equal(r.status, 0, `dpkg -i in the container's tree failed:\n${r.out}`);
  times.dpkg = performance.now() - d0;
  unlinkSync(join(root, 'root/pkg.deb'));
  assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^mssql-role-check:/m, 'the postinst made no user');
  writeConfig(false);
  const pw = join(root, `etc/${NAME}/serve.password`);
  writeFileSync(pw, `${MONITOR_PASSWORD}\n`, { mode: 0o600 });
  chmodSync(pw, 0o600);

  // boot only what the unit needs (it is enabled as the README says; the target pulls it in)
  writeFileSync(join(root, `etc/systemd/system/${TARGET}`), `[Unit]\nDescription=mssql-role-check boot test\nRequires=sysinit.target\nWants=${UNIT}\nAfter=${UNIT}\nAllowIsolate=yes\n`);
  for (const args of [['enable', UNIT], ['set-default', TARGET], ['mask', ...MASK]]) {
    r = run('systemctl', [`--root=${root}`, ...args]);
    assert.equal(r.status, 0, `systemctl --root ${args.join(' ')}:\n${r.out}`);
  }

  // a cgroup of its own in each hierarchy: nspawn --keep-unit splits the cgroup it starts in
  for (const h of ['systemd', 'unified']) {
    const d = `/sys/fs/cgroup/${h}`;
    if (existsSync(join(d, 'cgroup.procs'))) { mkdirSync(join(d, machine)); cgroups.push(join(d, machine)); }
  }
  const into = cgroups.map((c) => `echo $$ > ${c}/cgroup.procs`).join('; ');
  const t0 = performance.now();
  nspawn = spawn('sh', ['-c', `${into}${into ? '; ' : ''}exec systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --console=pipe --machine=${machine} -D ${root} --boot`],
    { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  nspawn.stdout!.on('data', (b: Buffer) => { nspawnLog += b.toString('utf8'); });
  nspawn.stderr!.on('data', (b: Buffer) => { nspawnLog += b.toString('utf8'); });
  nspawnExit = new Promise((resolve) => nspawn!.on('exit', () => resolve()));
  let exited = false;
  void nspawnExit.then(() => { exited = true; });

  // PID 1 of the container: nspawn's child running systemd; then the boot's end
  for (const start = performance.now(); ;) {
    const kids = existsSync(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`)
      ? readFileSync(`/proc/${nspawn.pid}/task/${nspawn.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean) : [];
    for (const k of kids) {
      try { if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'systemd') leader = Number(k); } catch { /* gone */ }
    }
    if (leader) break;
    if (exited || performance.now() - start > 30_000) {
      skip = `systemd-nspawn booted no systemd (${exited ? `exit ${nspawn.exitCode}` : 'nothing after 30 s'}): ${nspawnLog.trim().split('\n').slice(-8).join(' | ')}`;
      return;
    }
    await sleep(50);
  }
  for (const start = performance.now(); ;) {
    const s = inside(['systemctl', 'is-system-running']).stdout.trim();
    if (s === 'running' || s === 'degraded') { times.boot = performance.now() - t0; break; }
    if (exited || performance.now() - start > 60_000) {
      skip = `systemd in the container did not finish booting (${s || 'no answer'}): ${nspawnLog.trim().split('\n').slice(-8).join(' | ')}`;
      return;
    }
    await sleep(100);
  }
  // the first 200 through the unit's daemon: the credential was read and the target polled
  for (const start = performance.now(); performance.now() - start < 30_000; await sleep(50)) {
    const a = await request(port, '/sql1/primary').catch(() => undefined);
    if (a?.status === 200) { times.first200 = performance.now() - t0; break; }
  }
  const services = systemctl('list-units', '--type=service', '--state=running', '--plain', '--no-legend').stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  console.log(`# systemd-nspawn boot of ${TARGET} (running: ${services.join(' ')}): ${Math.round(times.boot)} ms to 'running'; first 200 from the unit's daemon at ${Math.round(times.first200 ?? NaN)} ms`);
  console.log(`#   ${inside(['systemd-analyze', 'time']).out.trim().split('\n')[0]}; dpkg -i of the .deb into the tree before it: ${Math.round(times.dpkg)} ms`);
}, { timeout: 25 * 60_000 });

after(async () => {
  const t0 = performance.now();
  // the container: a clean halt (nspawn's SIGTERM), then SIGKILL; then every mount and cgroup
  if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
    nspawn.kill('SIGTERM');
    const halted = await Promise.race([nspawnExit!.then(() => true), deadline(20_000).then(() => false)]);
    if (!halted) {
      if (leader) { try { process.kill(leader, 'SIGKILL'); } catch { /* gone */ } }
      nspawn.kill('SIGKILL');
      await Promise.race([nspawnExit, deadline(5000)]);
    }
  }
  for (const m of [root, layer]) {
    for (let i = 0; i < 20 && mounted().includes(m); i++) {
      if (run('umount', [m]).status !== 0) await sleep(250);
    }
    if (mounted().includes(m)) run('umount', ['-l', m]);
  }
  for (const c of cgroups) {
    if (!existsSync(c)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name)); dirs.push(d); };
    walk(c);
    for (const d of dirs) { try { rmdirSync(d); } catch (err) { console.log(`# could not remove cgroup ${d}: ${(err as Error).message}`); } }
  }
  try { rmdirSync(`/run/systemd/nspawn/propagate/${machine}`); } catch { /* not made, or removed by nspawn */ }
  const left = mounted();
  if (tmp) console.log(`# teardown (halt, umount, cgroups): ${Math.round(performance.now() - t0)} ms`);
  if (left.length === 0) tmp?.remove();
  await pair?.close();
  assert.deepEqual(left, [], 'mounts left behind');
});

/** skips loudly when the machine cannot boot the container */
function boot(t: { skip: (m: string) => void }): boolean {
  if (!skip) return true;
  console.log(`# SKIPPED: systemd in systemd-nspawn not available here: ${skip}`);
  t.skip(`systemd in systemd-nspawn not available: ${skip}`);
  return false;
}

test('under systemd as PID 1 the unit starts the daemon, which answers with the password from LoadCredential=', async (t) => {
  if (!boot(t)) return;
  assert.equal(readFileSync('/proc/' + leader + '/comm', 'utf8').trim(), 'systemd');
  const s = show('ActiveState', 'SubState', 'ConditionResult', 'MainPID', 'NRestarts');
  assert.equal(s.ActiveState, 'active', `${UNIT} is not active:\n${journal()}`);
  assert.equal(s.SubState, 'running');
  assert.equal(s.ConditionResult, 'yes');
  assert.equal(s.NRestarts, '0', `the daemon restarted:\n${journal()}`);
  // the small boot: none of the host's daemons came up on the shared network
  const running = systemctl('list-units', '--type=service', '--state=running', '--plain', '--no-legend').stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  assert.ok(running.includes(UNIT), running.join(' '));
  for (const u of ['haproxy.service', 'keepalived.service', 'prometheus.service']) assert.ok(!running.includes(u), `${u} runs in the container`);
  assert.ok(times.first200 !== undefined, `no 200 on /sql1/primary within 30 s:\n${journal()}`);
  assert.equal((await request(port, '/sql1/primary')).status, 200);
  // the mirror is judged too: a 503 for primary, so the 200 is not an answer to everything
  for (let i = 0; i < 100 && (await request(port, '/sql2/primary')).json?.errorCode !== 'ROLE'; i++) await sleep(100);
  const m = await request(port, '/sql2/primary');
  assert.equal(m.status, 503, m.text);
  assert.equal(m.json?.errorCode, 'ROLE', m.text);
  assert.match(journal(), new RegExp(`listening on 127\\.0\\.0\\.1:${port},`));
  // the config names no password: the daemon got it from $CREDENTIALS_DIRECTORY only
  assert.doesNotMatch(readFileSync(conf(), 'utf8'), /password/);
  assert.doesNotMatch(journal(), new RegExp(MONITOR_PASSWORD), 'the password reached the journal');
});

test('the daemon runs as the package\'s unprivileged user, inside ProtectSystem=strict, PrivateTmp= and PrivateUsers=', (t) => {
  if (!boot(t)) return;
  const pid = show('MainPID').MainPID;
  assert.notEqual(pid, '0');
  const uid = inside(['id', '-u', NAME]).stdout.trim();
  assert.match(uid, /^[1-9]\d*$/, `no user ${NAME} in the container`);
  const status = inside(['cat', `/proc/${pid}/status`]).stdout;
  assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), `the daemon's uids are not ${NAME}'s (${uid}):\n${status}`);
  assert.match(status, /^CapEff:\s+0+$/m, 'the daemon has capabilities');
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m);

  // ProtectSystem=strict: "/" read-only in the daemon's mount namespace, read-write in PID 1's
  const rootOpts = (p: string) => {
    const lines = inside(['cat', `/proc/${p}/mountinfo`]).stdout.split('\n').map((l) => l.split(' ')).filter((f) => f[4] === '/');
    assert.ok(lines.length > 0, `no / in /proc/${p}/mountinfo`);
    return lines.at(-1)![5].split(',');
  };
  assert.ok(rootOpts('1').includes('rw'), 'the control: / is writable for the container\'s PID 1');
  assert.ok(rootOpts(pid).includes('ro'), `/ is not read-only for the daemon: ${rootOpts(pid)}`);
  // a real write to /etc, as root, from within the daemon's mount namespace: refused; from PID 1's: taken
  const probe = '/etc/mrc-write-probe';
  const w = inside(['nsenter', '--target', pid, '--mount', '--', 'sh', '-c', `echo x > ${probe}`]);
  assert.notEqual(w.status, 0, 'a write to /etc in the daemon\'s mount namespace succeeded');
  assert.match(w.out, /Read-only file system/, w.out);
  const c = inside(['sh', '-c', `echo x > ${probe} && rm ${probe}`]);
  assert.equal(c.status, 0, `the control write in the container failed: ${c.out}`);

  // PrivateTmp=: a /tmp of its own; PrivateUsers=: a user namespace of its own with a tiny map
  const mounts = inside(['cat', `/proc/${pid}/mountinfo`]).stdout.split('\n').map((l) => l.split(' ')[4]);
  assert.ok(mounts.includes('/tmp') && mounts.includes('/var/tmp'), `no private /tmp, /var/tmp: ${mounts.join(' ')}`);
  const ns = (p: string) => inside(['readlink', `/proc/${p}/ns/user`]).stdout.trim();
  assert.notEqual(ns(pid), ns('1'), 'the daemon shares PID 1\'s user namespace');
  const map = inside(['cat', `/proc/${pid}/uid_map`]).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  assert.ok(map.every((f) => f[2] === '1'), `uid_map maps more than single ids: ${JSON.stringify(map)}`);
  assert.ok(map.some((f) => f[0] === uid && f[1] === uid), `uid_map lacks ${uid}: ${JSON.stringify(map)}`);
  console.log(`# the daemon (pid ${pid} in the container) runs as uid ${uid}, / read-only (write to /etc: Read-only file system), private /tmp and user namespace`);
});

test('systemd-analyze security as the container\'s systemd sees the running unit', (t) => {
  if (!boot(t)) return;
  const r = inside(['systemd-analyze', 'security', '--no-pager', UNIT]);
  const m = /Overall exposure level for \S+: (\d+\.\d) (\S+)/.exec(r.out);
  assert.ok(m, `no overall exposure in:\n${r.out}`);
  console.log(`# systemd-analyze security ${UNIT} (systemd in the container): exposure ${m[1]} ${m[2]}`);
  assert.ok(Number(m[1]) < 4, `exposure ${m[1]} is above systemd's OK band`);
});

test('systemctl reload hands the daemon a changed config (SIGHUP); the same process serves it', async (t) => {
  if (!boot(t)) return;
  const before = show('MainPID').MainPID;
  writeConfig(true);
  const r = systemctl('reload', UNIT);
  assert.equal(r.status, 0, `systemctl reload: ${r.out}\n${journal()}`);
  let a = 0;
  let b = 0;
  for (let i = 0; i < 200; i++) {
    [a, b] = [(await request(port, '/sql1/primary')).status, (await request(port, '/sql2/primary')).status];
    if (a === 503 && b === 200) break;
    await sleep(50);
  }
  assert.deepEqual([a, b], [503, 200], `after the reload sql1 and sql2 should have swapped servers:\n${journal()}`);
  const s = show('MainPID', 'ActiveState', 'NRestarts');
  assert.equal(s.MainPID, before, 'the reload restarted the daemon');
  assert.equal(s.ActiveState, 'active');
  assert.equal(s.NRestarts, '0');
});

test('systemctl stop ends the daemon within TimeoutStopSec=, with exit status 0', async (t) => {
  if (!boot(t)) return;
  const start = performance.now();
  const r = systemctl('stop', UNIT);
  const ms = performance.now() - start;
  assert.equal(r.status, 0, r.out);
  const s = show('ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus', 'TimeoutStopUSec');
  assert.equal(s.ActiveState, 'inactive');
  assert.equal(s.Result, 'success', `${JSON.stringify(s)}\n${journal()}`);
  assert.equal(s.ExecMainCode, '1', `the daemon did not exit by itself (1 = exited, 2 = killed): ${JSON.stringify(s)}`);
  assert.equal(s.ExecMainStatus, '0', `exit status ${s.ExecMainStatus}`);
  assert.equal(s.TimeoutStopUSec, '5s');
  assert.ok(ms < 5000, `systemctl stop took ${Math.round(ms)} ms, TimeoutStopSec=5s`);
  await assert.rejects(request(port, '/health', 'GET', {}, 1000), 'the port still answers after the stop');
  console.log(`# systemctl stop: ${Math.round(ms)} ms, ExecMainStatus=0, Result=success`);
});

test('ConditionPathExists=: with no serve.conf the unit is skipped, not failed', (t) => {
  if (!boot(t)) return;
  rmSync(conf());
  const r = systemctl('start', UNIT);
  assert.equal(r.status, 0, `systemctl start with no serve.conf: ${r.out}`);
  const s = show('ActiveState', 'Result', 'ConditionResult', 'MainPID');
  assert.equal(s.ConditionResult, 'no', JSON.stringify(s));
  assert.equal(s.ActiveState, 'inactive', JSON.stringify(s));
  assert.equal(s.Result, 'success', JSON.stringify(s));
  assert.equal(s.MainPID, '0');
  assert.notEqual(systemctl('is-failed', UNIT).stdout.trim(), 'failed');
  // and back: with the file again it starts
  writeConfig(false);
  assert.equal(systemctl('start', UNIT).status, 0);
  assert.equal(show('ActiveState').ActiveState, 'active', journal());
});
