// keepalived for real, asking the daemon instead of running the check: the two load-balancer
// hosts of keepalived.test.ts (network namespaces, VRRP unicast), each running the packed daemon
// (`mssql-role-check serve`) on its own loopback, 127.0.0.1:8008, for "its" SQL Server of the
// simulated mirrored pair in the third namespace. The vrrp_script is the one of
// doc/examples/keepalived-vrrp-serve.conf, `curl -fsS` against the daemon, run as the unprivileged
// script_user. The virtual IP must sit on the principal's host, move after a failover, and leave
// a host whose server stops answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from '../helpers/paths.ts';
import { tempDir, waitUntil, fmtMs, type Daemon } from './harness.ts';
import { createLbPair, canCreateNetns, namespaceExists, vipWatcher, type LbPair } from './netns.ts';
import { startKeepalived, type VrrpSettings } from './keepalived.ts';
import { SimProcess, SCENARIOS, DATABASE, LOGIN, loadScenario, passwordOf } from './sim.ts';
import { withCheckUser, CHECK_USER } from '../helpers/check-user.ts';
import { startServe, type ServeProcess } from '../serve/daemon.ts';

const INTERVAL = 1; // vrrp_script interval and the daemon's poll interval, seconds
const ADVERT = 1;
/** fall/rise 1 + the daemon's interval + VRRP master-down (3 adverts) + slack for a loaded machine */
const MOVE_LIMIT_MS = 15_000;
const EXAMPLE = join(ROOT, 'doc/examples/keepalived-vrrp-serve.conf');

const netns = canCreateNetns();
const skip = netns.ok ? false : `needs root to create network namespaces (${netns.why})`;
if (skip) console.log(`# SKIPPED keepalived-through-the-daemon test: ${skip}`);

let pair: LbPair | undefined;
let tmp: ReturnType<typeof tempDir>;
const daemons: Daemon[] = [];
const serves: ServeProcess[] = [];
let sims: SimProcess | undefined;

/** The example's vrrp_script line, for the target of this host. */
function exampleScript(target: 'sql1' | 'sql2'): string {
  const m = /^\s*script "([^"]+)"$/m.exec(readFileSync(EXAMPLE, 'utf8'));
  assert.ok(m, 'no script line in the example');
  assert.match(m[1], /^\/usr\/bin\/curl -fsS .*http:\/\/127\.0\.0\.1:8008\/sql1\/primary$/);
  return m[1].replace('/sql1/', `/${target}/`);
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing; run make first`);
  tmp = tempDir('mrc-keepalived-serve');
  chmodSync(tmp.dir, 0o711);
  pair = createLbPair();
  sims = await SimProcess.start({ name: 'sqlsim pair', netns: pair.sql.ns, host: '0.0.0.0',
    scenario: join(SCENARIOS, 'principal.json'), port: 1433, partner: { scenario: join(SCENARIOS, 'mirror.json'), port: 1434 } });
  daemons.push(sims.daemon);
  const password = passwordOf(loadScenario('principal'));
  const hosts = [
    { name: 'a', self: pair.a, peer: pair.b, target: 'sql1' as const, host: pair.sql.forA, port: 1433 },
    { name: 'b', self: pair.b, peer: pair.a, target: 'sql2' as const, host: pair.sql.forB, port: 1434 },
  ];
  for (const h of hosts) {
    // the daemon of this load-balancer host, on its own loopback (the namespace's), port 8008 as documented
    const d = await startServe({
      bin: BIN_X64, via: ['ip', 'netns', 'exec', h.self.ns], limitMs: 30_000,
      config: `listen = 127.0.0.1:8008\ninterval = ${INTERVAL}\ntimeout = 2\nuser = ${LOGIN}\npassword = ${password}\n` +
        `database = ${DATABASE}\nencrypt = off\n\n[${h.target}]\nhost = ${h.host}\nport = ${h.port}\n`,
    });
    serves.push(d);
    assert.equal(d.port, 8008);
  }
  const common = { vip: pair.vip, prefix: pair.prefix, interval: INTERVAL, scriptTimeout: 3, fall: 1, rise: 1,
    advertInt: ADVERT, routerId: 52, scriptUser: CHECK_USER };
  for (const h of hosts) {
    const s: VrrpSettings = { ...common, self: h.self, peer: h.peer, script: exampleScript(h.target) };
    daemons.push(startKeepalived(tmp.dir, h.name, s, withCheckUser(tmp.dir)));
  }
});

after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await Promise.all(serves.map((s) => s.stop()));
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
    for (const s of serves) console.log(`--- serve:\n${s.lines.slice(-15).join('\n')}`);
  },
});

test('the VIP sits on the host whose SQL Server is principal (vrrp_script: curl -fsS against the daemon)', { skip }, async () => {
  const ms = await vipSettlesOn('a', 'start: A principal, B mirror');
  console.log(`# keepalived + daemon: VIP on host A (principal) ${fmtMs(ms)} after the test started watching`);
});

test('after a failover the VIP moves to the new principal', { skip }, async () => {
  const t0 = performance.now();
  await sims!.control('failover');
  const ms = await vipSettlesOn('b', 'after failover: B principal');
  const total = performance.now() - t0;
  console.log(`# keepalived + daemon: VIP moved A → B ${fmtMs(ms)} after the failover ` +
    `(daemon interval ${INTERVAL} s; vrrp_script interval ${INTERVAL} s, fall 1, rise 1; advert_int ${ADVERT} s)`);
  assert.ok(total < MOVE_LIMIT_MS, `the move took ${fmtMs(total)}, more than ${fmtMs(MOVE_LIMIT_MS)}`);
});

test('when the principal stops answering, its host gives up the VIP; it follows the next principal', { skip }, async () => {
  const t0 = performance.now();
  // stall-after-login: the daemon's open session gets no answer to its next poll (black-hole acts
  // on new connections only), nor does a new session after its login
  await sims!.control('fault stall-after-login b');
  const gone = await waitUntil('B to give up the VIP', () => vipIsOn() !== 'b', MOVE_LIMIT_MS + 10_000, 50);
  console.log(`# keepalived + daemon: VIP left silent host B ${fmtMs(gone)} after it stopped answering (the daemon's poll deadline: timeout 2 s)`);
  assert.equal(vipIsOn(), 'none', 'with B silent and A still mirror, no host may hold the VIP');
  await sims!.control('failover');
  const ms = await vipSettlesOn('a', 'B silent, A principal');
  console.log(`# keepalived + daemon: VIP on A ${fmtMs(ms)} after A became principal; ${fmtMs(performance.now() - t0)} after B went silent`);
});

test('the VIP was never on both hosts at once', { skip }, () => {
  assert.deepEqual(overlaps, [], 'split brain: both hosts held the VIP');
});
