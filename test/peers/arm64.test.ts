// The arm64 binary, run by qemu-aarch64-static, does a full check (TCP, PRELOGIN, LOGIN7, query)
// against the simulator and reaches the same verdicts as the x64 binary: principal passes, mirror
// fails, --weight maps a pass to N+2, and a fault still fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCertificates } from '../sqlsim/certs.ts';
import { BIN_X64, BIN_ARM64 } from '../helpers/paths.ts';
import { startSqlSim, type SqlSim } from '../sqlsim/server.ts';
import { loadScenario, passwordOf, runCheck, type CheckRun } from './sim.ts';

const QEMU = ['qemu-aarch64-static'];
// emulation makes start-up slow (seconds): give both binaries a deadline that fits it
const TIMEOUT_S = 30;

let principal: SqlSim;
let mirror: SqlSim;
let password: string;

before(async () => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
  const p = loadScenario('principal');
  password = passwordOf(p);
  principal = await startSqlSim({ scenario: p });
  mirror = await startSqlSim({ scenario: loadScenario('mirror') });
});
after(async () => {
  await principal?.close();
  await mirror?.close();
});

async function both(sim: SqlSim, extra: string[] = []): Promise<{ x64: CheckRun; arm64: CheckRun }> {
  const opts = { host: sim.host, port: sim.port, password, timeoutS: TIMEOUT_S, extra };
  const [x64, arm64] = await Promise.all([
    runCheck({ ...opts, bin: BIN_X64 }),
    runCheck({ ...opts, bin: BIN_ARM64, via: QEMU }),
  ]);
  return { x64, arm64 };
}

function sameVerdict(r: { x64: CheckRun; arm64: CheckRun }, exit: number, what: string): void {
  assert.equal(r.x64.status, exit, `x64 ${what}: ${r.x64.stdout}${r.x64.stderr}`);
  assert.equal(r.arm64.status, exit, `arm64 ${what}: ${r.arm64.stdout}${r.arm64.stderr}`);
  const facts = (j: CheckRun['json']) => JSON.stringify((j?.databases as unknown[] | undefined) ?? null);
  assert.equal(facts(r.arm64.json), facts(r.x64.json), `${what}: the two binaries saw different facts`);
  assert.equal(r.arm64.json?.reason, r.x64.json?.reason, `${what}: different reasons`);
  console.log(`# ${what}: x64 exit ${r.x64.status} in ${Math.round(r.x64.ms)} ms, arm64 (qemu) exit ${r.arm64.status} in ${Math.round(r.arm64.ms)} ms`);
}

test('principal: x64 and arm64 both exit 0 with the same facts', async () => {
  sameVerdict(await both(principal), 0, 'principal');
});

test('mirror: x64 and arm64 both exit 1 with the same reason', async () => {
  sameVerdict(await both(mirror), 1, 'mirror');
});

test('--weight 40 on the principal: both exit 42', async () => {
  sameVerdict(await both(principal, ['--weight', '40']), 42, 'principal --weight 40');
});

test('a wrong password: both exit 1 with the same error code', async () => {
  const opts = { host: principal.host, port: principal.port, password: 'not-the-password', timeoutS: TIMEOUT_S };
  const [x64, arm64] = await Promise.all([runCheck({ ...opts, bin: BIN_X64 }), runCheck({ ...opts, bin: BIN_ARM64, via: QEMU })]);
  assert.equal(x64.status, 1);
  assert.equal(arm64.status, 1);
  assert.equal(arm64.json?.errorCode, x64.json?.errorCode);
});

// The paths the bundle loads lazily, each through both binaries: NTLM (js-md4 and node:crypto),
// text in a code page (the iconv-lite chunk) and TLS inside PRELOGIN (node:tls). Host names, the
// SQL Server Browser, old TLS versions and TDS 7.2/7.3 logins have their own arm64 rows in
// test/peers/dns.test.ts, test/tls-version.test.ts and test/versions.test.ts.
test('lazily loaded paths: NTLM, varchar text, TLS — both binaries pass with the same facts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'arm64-lazy-'));
  const certs = makeTestCertificates(join(dir, 'certs'));
  const scenario = loadScenario('principal');
  scenario.logins.push({ name: 'CORP\\monitor', password });
  const sims = [
    await startSqlSim({ scenario }),
    await startSqlSim({ scenario, varcharColumns: ['name', 'state_desc', 'user_access_desc', 'mirroring_role_desc', 'mirroring_state_desc'] }),
    await startSqlSim({ scenario, tls: { cert: certs.cert, key: certs.key }, encryption: 'required' }),
  ];
  try {
    sameVerdict(await both(sims[0], ['--domain', 'CORP']), 0, 'NTLM (--domain CORP)');
    sameVerdict(await both(sims[1]), 0, 'varchar text (iconv-lite chunk)');
    sameVerdict(await both(sims[2], ['--encrypt', 'on', '--trust-server-certificate']), 0, 'TLS in PRELOGIN (--encrypt on)');
    sameVerdict(await both(sims[2], ['--encrypt', 'on', '--ca-file', certs.caFile]), 0, 'TLS, certificate verified (--ca-file)');
  } finally {
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
