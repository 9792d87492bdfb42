// --tls-min-version against servers that speak only TLS 1.0 or only TLS 1.1 (SQL Server 2008-2014
// without the TLS 1.2 update) and against modern ones, run by the packed binaries: x64, and arm64
// under qemu-aarch64-static (TLS is a lazily loaded path of the bundle). The default refuses old
// TLS with a reason naming the option; the opt-in passes; a modern server still negotiates what it
// would anyway, and the version the simulator negotiated is asserted for every pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_X64, BIN_ARM64, NODE, ROOT } from './helpers/paths.ts';
import { startSqlSim, type SqlSim, type SqlSimOptions, type TlsVersion } from './sqlsim/server.ts';
import { makeTestCertificates, type TestCertificates } from './sqlsim/certs.ts';
import { loadScenario, passwordOf, runCheck, type CheckRun } from './peers/sim.ts';
import { run } from './peers/harness.ts';
import type { Scenario } from './sqlsim/types.ts';

const QEMU = ['qemu-aarch64-static'];
// emulation makes start-up slow (seconds): a deadline that fits it, for both binaries
const TIMEOUT_S = 30;

type SimName = 'tls10' | 'tls11' | 'modern' | 'strict' | 'strict12';
const sims = {} as Record<SimName, SqlSim>;
let dir: string;
let certs: TestCertificates;
let password: string;

/** The principal's scenario with the version of the server it plays (KB3135244: 2014 RTM before CU12 has no TLS 1.2). */
function principalAt(productVersion: string): Scenario {
  const s = loadScenario('principal');
  return { ...s, server: { ...s.server, productVersion } };
}

before(async () => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
  dir = mkdtempSync(join(tmpdir(), 'tls-version-test-'));
  certs = makeTestCertificates(join(dir, 'certs'));
  password = passwordOf(loadScenario('principal'));
  const tls = { cert: certs.cert, key: certs.key };
  const only = (v: TlsVersion) => ({ min: v, max: v });
  const opts: Record<SimName, SqlSimOptions> = {
    // SQL Server's default: encryption offered, not forced ("off"); --encrypt on asks for the whole session
    tls10: { scenario: principalAt('12.0.2000.8'), tls, tlsVersions: only('TLSv1') },
    tls11: { scenario: principalAt('12.0.2000.8'), tls, tlsVersions: only('TLSv1.1') },
    modern: { scenario: loadScenario('principal'), tls, encryption: 'required' },
    strict: { scenario: loadScenario('principal'), tls, encryption: 'strict' },
    // SQL Server 2022 strict on a Windows without TLS 1.3 (Microsoft Learn, "TLS 1.3 support", operating system support)
    strict12: { scenario: loadScenario('principal'), tls, encryption: 'strict', tlsVersions: only('TLSv1.2') },
  };
  for (const [name, o] of Object.entries(opts)) sims[name as SimName] = await startSqlSim(o);
});
after(async () => {
  await Promise.all(Object.values(sims).map((s) => s.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ON = ['--encrypt', 'on', '--trust-server-certificate'];
const STRICT = () => ['--encrypt', 'strict', '--ca-file', certs.caFile];
const min = (v: string) => ['--tls-min-version', v];
/** The reason when the server's TLS is older than the floor: it names the option and the values that help. */
const TOO_OLD = /^network error: .*TLS: unsupported protocol \(the server offers no TLS version that --tls-min-version allows, default 1\.2; SQL Server 2008-2014 without its TLS 1\.2 update needs --tls-min-version 1\.0 or 1\.1, with --encrypt on\)$/;
const REFUSED = /^network error: .*TLS: tlsv1 alert protocol version \(the server offers no TLS version that --tls-min-version allows, default 1\.2;/;

interface Row {
  name: string;
  sim: SimName;
  args: () => string[];
  exit: 0 | 1;
  /** the TLS version the simulator negotiated, on a pass */
  saw?: TlsVersion;
  reason?: RegExp;
  env?: Record<string, string>;
}

const ROWS: Row[] = [
  { name: 'TLS 1.0 only, default floor: fails naming --tls-min-version', sim: 'tls10', args: () => ON, exit: 1, reason: TOO_OLD },
  { name: 'TLS 1.0 only, --tls-min-version 1.2 given: fails the same', sim: 'tls10', args: () => [...ON, ...min('1.2')], exit: 1, reason: TOO_OLD },
  { name: 'TLS 1.0 only, --tls-min-version 1.1: fails', sim: 'tls10', args: () => [...ON, ...min('1.1')], exit: 1, reason: TOO_OLD },
  { name: 'TLS 1.0 only, --tls-min-version 1.0 --trust-server-certificate: passes on TLS 1.0', sim: 'tls10', args: () => [...ON, ...min('1.0')], exit: 0, saw: 'TLSv1' },
  { name: 'TLS 1.0 only, --tls-min-version 1.0 --ca-file: passes, certificate verified', sim: 'tls10', args: () => ['--encrypt', 'on', '--ca-file', certs.caFile, ...min('1.0')], exit: 0, saw: 'TLSv1' },
  // The binary ignores NODE_OPTIONS (build/sea-pack.mjs); the floor is also set explicitly, which
  // the test of the source below proves against Node's own flags.
  { name: 'TLS 1.0 only, default floor with NODE_OPTIONS=--tls-min-v1.0 at security level 0: still fails', sim: 'tls10', args: () => ON, exit: 1, reason: TOO_OLD,
    env: { NODE_OPTIONS: '--tls-min-v1.0 --tls-cipher-list=DEFAULT:@SECLEVEL=0' } },
  { name: 'TLS 1.0 only, --encrypt strict: fails (the server predates TDS 8.0)', sim: 'tls10', args: () => STRICT(), exit: 1 },
  { name: 'TLS 1.1 only, default floor: fails naming --tls-min-version', sim: 'tls11', args: () => ON, exit: 1, reason: TOO_OLD },
  { name: 'TLS 1.1 only, --tls-min-version 1.1: passes on TLS 1.1', sim: 'tls11', args: () => [...ON, ...min('1.1')], exit: 0, saw: 'TLSv1.1' },
  { name: 'TLS 1.1 only, --tls-min-version 1.0: passes on TLS 1.1', sim: 'tls11', args: () => [...ON, ...min('1.0')], exit: 0, saw: 'TLSv1.1' },
  { name: 'modern, --tls-min-version 1.0: still TLS 1.2', sim: 'modern', args: () => [...ON, ...min('1.0')], exit: 0, saw: 'TLSv1.2' },
  { name: 'modern, --tls-min-version 1.1: still TLS 1.2', sim: 'modern', args: () => [...ON, ...min('1.1')], exit: 0, saw: 'TLSv1.2' },
  { name: 'modern, --tls-min-version 1.2: TLS 1.2', sim: 'modern', args: () => [...ON, ...min('1.2')], exit: 0, saw: 'TLSv1.2' },
  { name: 'modern, default floor: TLS 1.2', sim: 'modern', args: () => ON, exit: 0, saw: 'TLSv1.2' },
  { name: 'strict, --tls-min-version 1.3: TLS 1.3', sim: 'strict', args: () => [...STRICT(), ...min('1.3')], exit: 0, saw: 'TLSv1.3' },
  { name: 'strict, --tls-min-version 1.2: TLS 1.3', sim: 'strict', args: () => [...STRICT(), ...min('1.2')], exit: 0, saw: 'TLSv1.3' },
  { name: 'strict on a TLS 1.2-only server, --tls-min-version 1.3: fails naming the option', sim: 'strict12', args: () => [...STRICT(), ...min('1.3')], exit: 1, reason: REFUSED },
  { name: 'strict on a TLS 1.2-only server, default floor: TLS 1.2', sim: 'strict12', args: () => STRICT(), exit: 0, saw: 'TLSv1.2' },
];

/** Runs x64 and arm64 side by side; the password travels in the environment. */
async function both(sim: SqlSim, extra: string[], env?: Record<string, string>): Promise<{ x64: CheckRun; arm64: CheckRun }> {
  if (!env) {
    const opts = { host: sim.host, port: sim.port, password, timeoutS: TIMEOUT_S, extra };
    const [x64, arm64] = await Promise.all([runCheck({ ...opts, bin: BIN_X64 }), runCheck({ ...opts, bin: BIN_ARM64, via: QEMU })]);
    return { x64, arm64 };
  }
  // runCheck passes no environment of its own: the same arguments, by hand
  const args = ['--host', sim.host, '--port', String(sim.port), '--database', 'appdb', '--user', 'monitor', '--timeout', String(TIMEOUT_S), '--json', ...extra];
  const once = async (cmd: string, pre: string[]): Promise<CheckRun> => {
    const r: CheckRun = await run(cmd, [...pre, ...args], { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password, ...env }, limitMs: TIMEOUT_S * 1000 + 10_000 });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (line.startsWith('{')) r.json = JSON.parse(line) as Record<string, unknown>;
    return r;
  };
  const [x64, arm64] = await Promise.all([once(BIN_X64, []), once(QEMU[0], [BIN_ARM64])]);
  return { x64, arm64 };
}

for (const row of ROWS) {
  test(row.name, async () => {
    const sim = sims[row.sim];
    const seen = { ...sim.stats.tlsProtocols };
    const r = await both(sim, row.args(), row.env);
    const delta: Record<string, number> = {};
    for (const [k, n] of Object.entries(sim.stats.tlsProtocols)) if (n !== (seen[k] ?? 0)) delta[k] = n - (seen[k] ?? 0);
    for (const [arch, c] of Object.entries(r)) {
      const what = `${arch}: ${c.stdout}${c.stderr}`;
      assert.equal(c.status, row.exit, what);
      assert.ok(c.json, `no JSON: ${what}`);
      assert.ok(!c.stderr.includes(password) && !c.stdout.includes(password), 'the password leaked');
      if (row.reason) {
        assert.match(String(c.json.reason), row.reason, what);
        assert.equal(c.json.errorCode, 'ESOCKET');
        assert.ok(!String(c.json.reason).includes('\n'), 'one line');
      }
    }
    assert.equal(r.arm64.json?.reason, r.x64.json?.reason, 'x64 and arm64 give the same reason');
    // both binaries' handshakes, at the version the server chose; none completed on a failure
    assert.deepEqual(delta, row.saw ? { [row.saw]: 2 } : {}, 'TLS versions the simulator negotiated');
    console.log(`# ${row.name}: x64 exit ${r.x64.status} in ${Math.round(r.x64.ms)} ms, arm64 (qemu) exit ${r.arm64.status} in ${Math.round(r.arm64.ms)} ms`);
  });
}

test('the floor is explicit: Node started with --tls-min-v1.0 at security level 0 still refuses TLS 1.0 unless asked', async () => {
  const sim = sims.tls10;
  const seen = sim.stats.tlsProtocols.TLSv1 ?? 0;
  const flags = ['--tls-min-v1.0', '--tls-cipher-list=DEFAULT:@SECLEVEL=0'];
  const args = ['--host', sim.host, '--port', String(sim.port), '--database', 'appdb', '--user', 'monitor', '--json', ...ON];
  const r = await run(NODE, [...flags, join(ROOT, 'src/main.ts'), ...args], { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password }, limitMs: 20_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(String(JSON.parse(r.stdout).reason), TOO_OLD);
  assert.equal(sim.stats.tlsProtocols.TLSv1 ?? 0, seen, 'no TLS 1.0 handshake completed');
  // the same Node with the opt-in: the flags were not what refused it
  const ok = await run(NODE, [...flags, join(ROOT, 'src/main.ts'), ...args, ...min('1.0')], { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password }, limitMs: 20_000 });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(sim.stats.tlsProtocols.TLSv1, seen + 1);
});

test('sqlsim refuses a TLS range it cannot speak: TLS 1.3 only inside PRELOGIN, strict without TLS 1.2', async () => {
  const tls = { cert: certs.cert, key: certs.key };
  await assert.rejects(startSqlSim({ scenario: loadScenario('principal'), tls, tlsVersions: { min: 'TLSv1.3', max: 'TLSv1.3' } }), /none left inside PRELOGIN/);
  await assert.rejects(startSqlSim({ scenario: loadScenario('principal'), tls, encryption: 'strict', tlsVersions: { min: 'TLSv1', max: 'TLSv1' } }), /needs TLS 1\.2/);
});
