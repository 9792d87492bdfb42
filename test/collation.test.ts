// The built x64 binary against sqlsim servers of different collations: the database the operator
// names is found (or not) the way a real server finds it. The facts query compares
// sys.databases.name with the name sent as a parameter, so the server collation decides:
// trailing spaces never count, case and accents count as the collation says (test/sqlsim/collation.ts
// has the rules and their sources). A SQL login's name is compared in the server collation too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_X64 } from './helpers/paths.ts';
import { startSqlSim, type SqlSim } from './sqlsim/server.ts';
import type { Scenario } from './sqlsim/types.ts';

const BIN = process.env.MSSQL_ROLE_CHECK_BIN ?? BIN_X64;
const PASSWORD = 'Coll-Pw_5520-eta';
let dir: string;
let pwFile: string;

before(() => {
  assert.ok(existsSync(BIN), `${BIN} is missing: make builds it before the tests`);
  dir = mkdtempSync(join(tmpdir(), 'collation-test-'));
  pwFile = join(dir, 'password');
  writeFileSync(pwFile, PASSWORD + '\n', { mode: 0o600 });
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Report {
  exitCode: number;
  reason: string;
  databases: Array<{ name: string; pass: boolean; reason: string; facts: Record<string, unknown> | null }>;
}

function check(sim: SqlSim, user: string, database: string): Promise<{ status: number | null; report: Report; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = ['--host', sim.host, '--port', String(sim.port), '--user', user, '--password-file', pwFile,
      '--timeout', '5', '--encrypt', 'off', '--json', '--database', database];
    const child = spawn(BIN, args, { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (err) => { clearTimeout(killer); reject(err); });
    child.on('close', (status) => {
      clearTimeout(killer);
      try {
        const report = JSON.parse(stdout) as Report;
        assert.equal(report.exitCode, status, 'the JSON tells the exit code');
        resolve({ status, report, stderr });
      } catch (err) {
        reject(new Error(`no JSON on stdout (exit ${status}): ${stdout} ${stderr} (${String(err)})`));
      }
    });
  });
}

/** A mirroring principal whose one user database is Réservations, on a server of that collation. */
function principal(collation: string): Scenario {
  return {
    server: { name: 'COLL', collation },
    logins: [{ name: 'monitor', password: PASSWORD, sysadmin: true }],
    databases: [{ name: 'Réservations', database_id: 5 }],
    database_mirroring: [{
      database_id: 5, mirroring_role_desc: 'PRINCIPAL', mirroring_state_desc: 'SYNCHRONIZED',
      mirroring_partner_name: 'TCP://partner.example:5022',
    }],
  };
}

// [server collation, --database, expected exit, a substring of the reason]
const CASES: Array<[string, string, 0 | 1, string]> = [
  ['SQL_Latin1_General_CP1_CI_AS', 'Réservations', 0, 'mirroring PRINCIPAL'],
  ['SQL_Latin1_General_CP1_CI_AS', 'Réservations  ', 0, 'mirroring PRINCIPAL'], // trailing spaces do not count
  ['SQL_Latin1_General_CP1_CI_AS', 'RÉSERVATIONS', 0, 'mirroring PRINCIPAL'], // É is é under _CI
  ['SQL_Latin1_General_CP1_CI_AS', 'Reservations', 1, 'database not found'], // but e is not é under _AS
  ['Latin1_General_CI_AS', 'rÉsErVaTiOnS ', 0, 'mirroring PRINCIPAL'],
  ['Latin1_General_CS_AS', 'Réservations ', 0, 'mirroring PRINCIPAL'], // trailing spaces do not count under _CS either
  ['Latin1_General_CS_AS', 'RÉSERVATIONS', 1, 'database not found'], // case counts under _CS
  ['SQL_Latin1_General_CP1_CS_AS', 'réservations', 1, 'database not found'],
];

for (const [collation, database, exit, reason] of CASES) {
  test(`${collation}: --database ${JSON.stringify(database)} exits ${exit}`, async () => {
    const sim = await startSqlSim({ scenario: principal(collation) });
    try {
      const r = await check(sim, 'monitor', database);
      assert.equal(r.status, exit, `${r.report.reason} ${r.stderr}`);
      assert.ok(r.report.reason.includes(reason), r.report.reason);
      assert.equal(r.report.databases[0].name, database, 'reported under the name given');
      // found: the server's own spelling of the name comes back in the facts
      if (exit === 0) assert.equal(r.report.databases[0].facts?.name, 'Réservations');
    } finally {
      await sim.close();
    }
  });
}

test('a SQL login name compares in the server collation: MONITOR is monitor only under _CI', async () => {
  for (const [collation, exit] of [['SQL_Latin1_General_CP1_CI_AS', 0], ['Latin1_General_CS_AS', 1]] as const) {
    const sim = await startSqlSim({ scenario: principal(collation) });
    try {
      const r = await check(sim, 'MONITOR', 'Réservations');
      assert.equal(r.status, exit, `${collation}: ${r.report.reason}`);
      if (exit === 1) assert.match(r.report.reason, /Login failed for user 'MONITOR'/);
    } finally {
      await sim.close();
    }
  }
});
