// An independent TDS client proves the simulator speaks TDS: FreeTDS's tsql (Debian freetds-bin,
// its own TDS code and GnuTLS) connects plain, with TLS for the login only, and with TLS for
// everything; runs a catalog query and gets the scenario's rows; a wrong password gives the login
// error; a nonexistent column gives error 207.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSqlSim, type EncryptionMode, type SqlSim } from './server.ts';
import { makeTestCertificates, type TestCertificates } from './certs.ts';
import { scenarioFile } from './catalog.ts';
import type { Scenario } from './types.ts';
import { haveTsql, tsql } from './freetds.ts';

const HAVE_TSQL = haveTsql();
if (!HAVE_TSQL) console.log('\n*** SKIPPING the FreeTDS tests: tsql is not installed (Debian package freetds-bin; make deps installs it) ***\n');

const QUERY = `SELECT d.name, d.state_desc, m.mirroring_role_desc, m.mirroring_partner_instance
FROM sys.databases AS d JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
WHERE d.name = N'appdb'`;

describe('FreeTDS tsql against sqlsim', { skip: HAVE_TSQL ? false : 'FreeTDS tsql is not installed (make deps installs freetds-bin)', timeout: 90_000 }, () => {
  let dir: string;
  let certs: TestCertificates;
  let scenario: Scenario;
  let password: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlsim-freetds-'));
    certs = makeTestCertificates(dir);
    scenario = scenarioFile('principal');
    password = scenario.logins.find((l) => l.name === 'monitor')!.password;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function withSim<T>(encryption: EncryptionMode, body: (sim: SqlSim) => Promise<T>): Promise<T> {
    const sim = await startSqlSim({ scenario, encryption, tls: { cert: certs.cert, key: certs.key } });
    try {
      return await body(sim);
    } finally {
      await sim.close();
    }
  }

  const modes: { name: string; server: EncryptionMode; client: 'off' | 'request' | 'require'; tls: boolean }[] = [
    { name: 'plain (client encryption off)', server: 'off', client: 'off', tls: false },
    { name: 'plain against a server without certificate', server: 'none', client: 'request', tls: false },
    { name: 'TLS for the login only (ENCRYPT_OFF both sides)', server: 'off', client: 'request', tls: true },
    { name: 'TLS for everything (client requires it)', server: 'off', client: 'require', tls: true },
    { name: 'TLS for everything (Force Encryption)', server: 'on', client: 'request', tls: true },
  ];
  for (const mode of modes) {
    it(`${mode.name}: a catalog query returns the scenario's row`, () =>
      withSim(mode.server, async (sim) => {
        const r = await tsql({ host: sim.host, port: sim.port, user: 'monitor', password, encryption: mode.client, statements: [QUERY], dir });
        assert.match(r.out, /\bname\tstate_desc\tmirroring_role_desc\tmirroring_partner_instance\n/, r.out);
        assert.match(r.out, /\nappdb\tONLINE\tPRINCIPAL\tSQLB\n/, r.out);
        assert.match(r.out, /\(1 row affected\)/);
        assert.equal(sim.stats.logins, 1);
        assert.equal(sim.stats.tlsHandshakes, mode.tls ? 1 : 0);
        assert.ok(!r.out.includes(password), 'the password is never echoed');
      }));
  }

  it('the mirror answers with its own rows; a login without sysadmin sees NULL mirroring columns there', async () => {
    const mirror = scenarioFile('mirror');
    const sim = await startSqlSim({ scenario: mirror });
    const pw = (name: string) => mirror.logins.find((l) => l.name === name)!.password;
    try {
      const sa = await tsql({ host: sim.host, port: sim.port, user: 'sa', password: pw('sa'), encryption: 'off', statements: [QUERY], dir });
      assert.match(sa.out, /\nappdb\tRESTORING\tMIRROR\tSQLA\n/, sa.out);
      const monitor = await tsql({ host: sim.host, port: sim.port, user: 'monitor', password: pw('monitor'), encryption: 'off', statements: [QUERY], dir });
      assert.match(monitor.out, /\nappdb\tRESTORING\tNULL\tNULL\n/, monitor.out);
    } finally {
      await sim.close();
    }
  });

  it('a routing ENVCHANGE in the login response: tsql follows it and queries the server it names', async () => {
    // MS-TDS 2.2.7.9, type 20: what sqlsim sends for Scenario.server.routing, read by another client
    const routed: Scenario = { ...scenario, server: { ...scenario.server, name: 'SQLR' } };
    const to = await startSqlSim({ scenario: routed });
    const from = await startSqlSim({ scenario: { ...scenario, server: { ...scenario.server, routing: { server: to.host, port: to.port } } } });
    try {
      const r = await tsql({ host: from.host, port: from.port, user: 'monitor', password, encryption: 'off', statements: ['SELECT @@SERVERNAME AS s'], dir });
      assert.match(r.out, /\bs\nSQLR\n/, r.out);
      assert.equal(from.stats.logins, 1, 'logged in where it connected first');
      assert.equal(from.stats.rpcs + from.stats.batches, 0, 'and sent no request there');
      assert.equal(to.stats.logins, 1, 'then logged in where it was routed');
    } finally {
      await from.close();
      await to.close();
    }
  });

  it('wrong password → Msg 18456, "Login failed for user"', () =>
    withSim('off', async (sim) => {
      const r = await tsql({ host: sim.host, port: sim.port, user: 'monitor', password: 'not-the-password', encryption: 'request', statements: [QUERY], dir });
      assert.match(r.out, /Msg 18456 \(severity 14, state 1\)/, r.out);
      assert.match(r.out, /Login failed for user 'monitor'\./);
      assert.notEqual(r.status, 0);
      assert.equal(sim.stats.logins, 0);
      assert.equal(sim.stats.loginFailures, 1);
    }));

  it('a nonexistent column → Msg 207; an unknown table → Msg 208; the session survives both', () =>
    withSim('off', async (sim) => {
      const r = await tsql({ host: sim.host, port: sim.port, user: 'monitor', password, encryption: 'request', dir,
        statements: ['SELECT no_such_column FROM sys.databases', 'SELECT * FROM sys.no_such_view', "SELECT name FROM sys.databases WHERE name = N'appdb'"] });
      assert.match(r.out, /Msg 207 \(severity 16, state 1\) from SQLA/, r.out);
      assert.match(r.out, /Invalid column name 'no_such_column'\./);
      assert.match(r.out, /Msg 208 \(severity 16, state 1\) from SQLA/);
      assert.match(r.out, /\bname\nappdb\n/);
    }));

  it('server functions and a sql_variant come through (@@SERVERNAME, SERVERPROPERTY, DATABASEPROPERTYEX)', () =>
    withSim('off', async (sim) => {
      const r = await tsql({ host: sim.host, port: sim.port, user: 'monitor', password, encryption: 'off', dir,
        statements: ["SELECT @@SERVERNAME AS s, SERVERPROPERTY('ProductVersion') AS v, DATABASEPROPERTYEX(N'appdb', 'Updateability') AS u"] });
      assert.match(r.out, /\bs\tv\tu\nSQLA\t16\.0\.4165\.4\tREAD_WRITE\n/, r.out);
    }));
});
