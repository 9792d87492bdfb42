// keepalived for real: two load-balancer hosts as network namespaces joined by a veth pair, each
// running keepalived with one vrrp_instance whose vrrp_script runs the built check against "its"
// SQL Server: a simulated mirrored pair in a third namespace, reached over a link of its own
// (see netns.ts). The virtual IP must sit on the host whose server is principal, move after a
// failover, and move after the principal stops answering. keepalived runs the check as the
// examples do: as the unprivileged script_user mssql-role-check, reading a root:mssql-role-check
// 0640 config file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_X64 } from '../helpers/paths.ts';
import { tempDir, waitUntil, writePrivate, secureCopy, fmtMs, type Daemon } from './harness.ts';
import { createLbPair, canCreateNetns, namespaceExists, vipWatcher, type LbPair } from './netns.ts';
import { startKeepalived, type VrrpSettings } from './keepalived.ts';
import { SimProcess, SCENARIOS, DATABASE, LOGIN, loadScenario, passwordOf } from './sim.ts';
import { withCheckUser, checkUserIds, CHECK_USER } from '../helpers/check-user.ts';

const INTERVAL = 1; // vrrp_script interval, seconds
const ADVERT = 1; // VRRP advert_int, seconds
const CHECK_TIMEOUT = 3; // the check's own --timeout (its default; keepalived's script timeout is 2 s more)
/** "within a few intervals": fall/rise detection + VRRP master-down time (3 adverts) + slack for a loaded machine */
const MOVE_LIMIT_MS = 12_000;

const netns = canCreateNetns();
const skip = netns.ok ? false : `needs root to create network namespaces (${netns.why})`;
if (skip) console.log(`# SKIPPED keepalived VRRP test: ${skip}`);

let pair: LbPair | undefined;
let tmp: ReturnType<typeof tempDir>;
const daemons: Daemon[] = [];
let sims: SimProcess | undefined;
/** every VIP sample: both hosts holding it at once would be a split brain */

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing; run make first`);
  tmp = tempDir('mrc-keepalived');
  chmodSync(tmp.dir, 0o711); // the check runs as the examples' unprivileged script_user
  pair = createLbPair();
  console.log(`# IPVS: ${existsSync('/proc/net/ip_vs') ? 'present' : 'absent from this kernel'} — keepalived's MISC_CHECK drives IPVS, ` +
    'so this test runs the check through vrrp_script (MISC_CHECK snippets are validated in examples.test.ts)');
  // the mirrored pair: server a (principal) on port 1433, server b (mirror) on 1434
  sims = await SimProcess.start({ name: 'sqlsim pair', netns: pair.sql.ns, host: '0.0.0.0',
    scenario: join(SCENARIOS, 'principal.json'), port: 1433, partner: { scenario: join(SCENARIOS, 'mirror.json'), port: 1434 } });
  daemons.push(sims.daemon);
  const target = { a: `host = ${pair.sql.forA}\nport = 1433`, b: `host = ${pair.sql.forB}\nport = 1434` };
  const password = passwordOf(loadScenario('principal'));
  const bin = secureCopy(BIN_X64, tmp.dir, 'mssql-role-check');
  const common = { vip: pair.vip, prefix: pair.prefix, interval: INTERVAL, scriptTimeout: CHECK_TIMEOUT + 2, fall: 1, rise: 1,
    advertInt: ADVERT, routerId: 51, scriptUser: CHECK_USER };
  // the check's own log, in a folder only the script user may write: whoever created it ran the check
  const ids = checkUserIds(tmp.dir);
  mkdirSync(logs(), { mode: 0o700 });
  chownSync(logs(), ids.uid, ids.gid);
  for (const [name, self, peer] of [['a', pair.a, pair.b], ['b', pair.b, pair.a]] as const) {
    const conf = join(tmp.dir, `check-${name}.conf`);
    writePrivate(conf, `${target[name]}\ndatabase = ${DATABASE}\nuser = ${LOGIN}\npassword = ${password}\n` +
      `timeout = ${CHECK_TIMEOUT}\nrole = primary\nencrypt = off\nlog-file = ${join(logs(), `check-${name}.log`)}\n`);
    // as the packages install it: root:mssql-role-check 0640, read by keepalived's script_user
    chownSync(conf, 0, checkUserIds(tmp.dir).gid);
    chmodSync(conf, 0o640);
    const s: VrrpSettings = { ...common, self, peer, script: `${bin} --config ${conf}` };
    daemons.push(startKeepalived(tmp.dir, name, s, withCheckUser(tmp.dir)));
  }
});

const logs = () => join(tmp.dir, 'logs');

test('keepalived runs the check as the unprivileged script_user, never as root', { skip }, async () => {
  const log = join(logs(), 'check-a.log');
  await waitUntil('the check\'s first log line', () => existsSync(log), 20_000, 100);
  assert.equal(statSync(log).uid, checkUserIds(tmp.dir).uid, `${log} was written by uid ${statSync(log).uid}`);
});

after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  if (pair) {
    pair.destroy();
    assert.ok(!namespaceExists(pair.a.ns) && !namespaceExists(pair.b.ns), 'namespaces left behind');
  }
  tmp?.remove();
});

const { overlaps, vipIsOn, vipSettlesOn } = vipWatcher(() => pair!, {
  intervalS: INTERVAL, limitMs: MOVE_LIMIT_MS,
  onFail: () => {
    for (const d of daemons) console.log(`--- ${d.name}:\n${d.tail(25)}`);
  },
});

test('the VIP sits on the host whose SQL Server is principal', { skip }, async () => {
  const ms = await vipSettlesOn('a', 'start: A principal, B mirror');
  console.log(`# keepalived: VIP on host A (principal) ${fmtMs(ms)} after the test started watching`);
});

test('after a failover the VIP moves to the new principal within a few intervals', { skip }, async () => {
  const t0 = performance.now();
  await sims!.control('failover');
  const ms = await vipSettlesOn('b', 'after failover: B principal');
  const total = performance.now() - t0;
  console.log(`# keepalived: VIP moved A → B ${fmtMs(ms)} after the failover ` +
    `(vrrp_script interval ${INTERVAL} s, fall 1, rise 1, advert_int ${ADVERT} s)`);
  assert.ok(total < MOVE_LIMIT_MS, `the move took ${fmtMs(total)}, more than ${fmtMs(MOVE_LIMIT_MS)}`);
});

test('when the principal stops answering and the mirror takes over, the VIP follows', { skip }, async () => {
  // B (principal) goes silent: the check there hits its deadline. A's server becomes principal,
  // as a witness would make it (automatic failover).
  const t0 = performance.now();
  await sims!.control('fault black-hole b');
  const gone = await waitUntil('B to give up the VIP', () => vipIsOn() !== 'b', MOVE_LIMIT_MS + 10_000, 50);
  console.log(`# keepalived: VIP left silent host B ${fmtMs(gone)} after it stopped answering (check --timeout ${CHECK_TIMEOUT} s)`);
  assert.equal(vipIsOn(), 'none', 'with B silent and A still mirror, no host may hold the VIP');
  const t1 = performance.now();
  await sims!.control('failover');
  const ms = await vipSettlesOn('a', 'B silent, A principal');
  console.log(`# keepalived: VIP on A ${fmtMs(ms)} after A became principal; ${fmtMs(performance.now() - t0)} after B went silent`);
  assert.ok(performance.now() - t1 < MOVE_LIMIT_MS + 2 * INTERVAL * 1000);
});

test('the VIP was never on both hosts at once', { skip }, () => {
  assert.deepEqual(overlaps, [], 'split brain: both hosts held the VIP');
});
