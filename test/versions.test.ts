// Every SQL Server release the check supports, as sqlsim models its catalog and its TDS version
// (test/sqlsim/schema.ts): the packed binaries pass the principal / primary and fail the mirror /
// secondary of each, and FreeTDS's tsql (an independent client) confirms that sqlsim refuses the
// views and columns a release lacks, with that release's errors. The TDS 7.2 / 7.3 logins of
// 2005-2008 R2 are run by the arm64 binary too (qemu-aarch64-static).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_X64, BIN_ARM64 } from './helpers/paths.ts';
import { startSqlSim, type SqlSim } from './sqlsim/server.ts';
import { scenarioFile } from './sqlsim/scenarios.ts';
import { haveTsql, tsql } from './sqlsim/freetds.ts';
import type { Scenario } from './sqlsim/types.ts';
import { run } from './peers/harness.ts';

interface Release { name: string; productVersion: string; engineEdition?: number; tds: string; hadr: boolean }
const RELEASES: Release[] = [
  { name: '2005 SP4', productVersion: '9.00.5000.00', tds: '72090002', hadr: false },
  { name: '2008 SP4', productVersion: '10.0.6000.29', tds: '730a0003', hadr: false },
  { name: '2008 R2 SP3', productVersion: '10.50.6000.34', tds: '730b0003', hadr: false },
  { name: '2012 SP4', productVersion: '11.0.7001.0', tds: '74000004', hadr: true },
  { name: '2014 SP3', productVersion: '12.0.6024.0', tds: '74000004', hadr: true },
  { name: '2016 SP3', productVersion: '13.0.6300.2', tds: '74000004', hadr: true },
  { name: '2017', productVersion: '14.0.3456.2', tds: '74000004', hadr: true },
  { name: '2019', productVersion: '15.0.4236.7', tds: '74000004', hadr: true },
  { name: '2022', productVersion: '16.0.4165.4', tds: '74000004', hadr: true },
  { name: '2025', productVersion: '17.0.1000.7', tds: '74000004', hadr: true },
  { name: 'Managed Instance', productVersion: '12.0.2000.8', engineEdition: 8, tds: '74000004', hadr: true },
];
const ARM64_TOO = new Set(['2005 SP4', '2008 SP4', '2008 R2 SP3', '2012 SP4']);

function at(base: string, r: Release): Scenario {
  const s = scenarioFile(base);
  s.server = { ...s.server, productVersion: r.productVersion, ...(r.engineEdition ? { engineEdition: r.engineEdition } : {}) };
  // a server without availability groups has no HADR to enable
  if (!r.hadr) delete s.server.isHadrEnabled;
  // the least a check's login can have: public's VIEW ANY DATABASE and nothing else
  s.logins = [...s.logins, { name: 'lbcheck', password: 'Sim-Lbcheck-Passw0rd', viewAnyDatabase: true }];
  return s;
}

interface Sim { sim: SqlSim; log: string[]; password: (login: string) => string }
async function start(s: Scenario): Promise<Sim> {
  const log: string[] = [];
  const sim = await startSqlSim({ scenario: s, log: (line) => log.push(line) });
  return { sim, log, password: (login) => s.logins.find((l) => l.name === login)!.password };
}

/** A sim as --partner names it. */
const partnerOf = (s: Sim) => (s.sim.host.includes(':') ? `[${s.sim.host}]:${s.sim.port}` : `${s.sim.host}:${s.sim.port}`);

async function check(bin: 'x64' | 'arm64', s: Sim, login: string, database: string, extra: string[] = []) {
  const arm = bin === 'arm64';
  const args = ['--host', s.sim.host, '--port', String(s.sim.port), '--user', login, '--database', database,
    '--timeout', arm ? '30' : '5', '--json', ...(extra.includes('--encrypt') ? [] : ['--encrypt', 'off']), ...extra];
  const [cmd, ...pre] = arm ? ['qemu-aarch64-static', BIN_ARM64] : [BIN_X64];
  const r = await run(cmd, [...pre, ...args], { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: s.password(login) }, limitMs: arm ? 60_000 : 15_000 });
  const json = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { reason?: string };
  return { status: r.status, reason: json.reason ?? `${r.stdout} ${r.stderr}` };
}

before(() => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
});

for (const r of RELEASES) {
  describe(`SQL Server ${r.name} (${r.productVersion})`, () => {
    const sims: Sim[] = [];
    after(async () => { await Promise.all(sims.map((s) => s.sim.close())); });
    const bins = ARM64_TOO.has(r.name) ? (['x64', 'arm64'] as const) : (['x64'] as const);

    test('mirroring: the principal passes, the mirror fails; the login is answered in its TDS version', async () => {
      const [p, m] = [await start(at('principal', r)), await start(at('mirror', r))];
      sims.push(p, m);
      for (const bin of bins) {
        const onPrincipal = await check(bin, p, 'lbcheck', 'appdb');
        assert.equal(onPrincipal.status, 0, `${bin} on the principal: ${onPrincipal.reason}`);
        assert.match(onPrincipal.reason, /mirroring PRINCIPAL, SYNCHRONIZED/);
        const onMirror = await check(bin, m, 'sa', 'appdb');
        assert.equal(onMirror.status, 1, `${bin} on the mirror: ${onMirror.reason}`);
        assert.match(onMirror.reason, /mirroring role is MIRROR, not PRINCIPAL/);
        assert.equal((await check(bin, m, 'sa', 'appdb', ['--role', 'mirror'])).status, 0, `${bin} --role mirror on the mirror`);
      }
      assert.ok(p.log.some((l) => l.includes(`TDS 0x${r.tds}`)), `LOGINACK in TDS ${r.tds}: ${p.log.filter((l) => l.includes('logged in')).join(' | ')}`);
    });

    if (r.hadr) {
      test('availability group: the primary passes, a secondary fails --role primary and passes --role secondary', async () => {
        const [p, sec] = [await start(at('ag-primary', r)), await start(at('ag-secondary-sync', r))];
        sims.push(p, sec);
        // the group is CLUSTER_TYPE = NONE from 2017 on (2012-2016 have no such column: WSFC), so the
        // primary passes when its partner, asked, is a secondary
        const a = await check('x64', p, 'monitor', 'agdb', ['--partner', partnerOf(sec)]);
        assert.equal(a.status, 0, a.reason);
        assert.match(a.reason, /partner .*: availability group: replica SECONDARY/);
        const alone = await check('x64', p, 'monitor_full', 'agdb');
        if (r.engineEdition === 8 || Number(r.productVersion.split('.')[0]) >= 14) {
          assert.equal(alone.status, 1, alone.reason);
          assert.match(alone.reason, /CLUSTER_TYPE = NONE/);
        } else {
          assert.equal(alone.status, 0, `before 2017 every group is WSFC: ${alone.reason}`);
        }
        // without VIEW ANY DEFINITION the group's row, and its cluster type, are hidden
        const hidden = await check('x64', p, 'monitor', 'agdb');
        assert.equal(hidden.status, 1, hidden.reason);
        assert.match(hidden.reason, /cluster type unknown .*GRANT VIEW ANY DEFINITION TO \[monitor\]/);
        const b = await check('x64', sec, 'monitor', 'agdb');
        assert.equal(b.status, 1, b.reason);
        assert.match(b.reason, /SECONDARY, not PRIMARY/);
        const c = await check('x64', sec, 'monitor_full', 'agdb', ['--role', 'secondary', '--max-lag', '10']);
        assert.equal(c.status, 0, c.reason);
        assert.match(c.reason, /lag 0 s/);
        // without VIEW SERVER STATE the batch leaves the DMVs alone (they would raise Msg 300): a
        // database in a group fails with the GRANT that fixes it, a standalone one needs none
        const d = await check('x64', p, 'lbcheck', 'agdb');
        assert.equal(d.status, 1);
        assert.match(d.reason, /no availability-group rows are visible: .*GRANT VIEW SERVER STATE TO \[lbcheck\]/);
        assert.equal((await check('x64', p, 'lbcheck', 'localonly', ['--role', 'online'])).status, 0, 'a database in no group');
      });
    } else {
      test('no availability groups on this release: sqlsim refuses a scenario that has one', async () => {
        await assert.rejects(startSqlSim({ scenario: at('ag-primary', r) }), /has no availability groups/);
      });
    }
  });
}

test('Msg 300 all the same (a DENY on a DMV, say): the check fails and names the GRANT', async () => {
  const s = at('ag-primary', RELEASES.find((x) => x.name === '2019')!);
  const log: string[] = [];
  const sim = await startSqlSim({ scenario: s, log: (l) => log.push(l),
    fault: { name: 'query-error', on: 'rpc', number: 300, severity: 14, message: "VIEW SERVER STATE permission was denied on object 'server', database 'master'." } });
  try {
    const r = await check('x64', { sim, log, password: (l) => s.logins.find((x) => x.name === l)!.password }, 'monitor', 'agdb');
    assert.equal(r.status, 1);
    assert.match(r.reason, /^query failed \(error 300\): VIEW SERVER STATE permission was denied .* GRANT VIEW SERVER STATE TO \[monitor\]$/);
  } finally {
    await sim.close();
  }
});

// tsql is required here (make deps installs freetds-bin): a missing one fails, it is not skipped
describe('FreeTDS tsql sees what each release lacks', () => {
  before(() => assert.ok(haveTsql(), 'tsql (freetds-bin) is not installed: make deps'));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'versions-tsql-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  // [release, statement, the Msg number a real server of that release answers, or 0 for rows]
  const rows: [string, string, number][] = [
    ['2008 R2 SP3', 'SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states', 208],
    ['2008 R2 SP3', 'SELECT COUNT(*) FROM sys.availability_groups', 208],
    ['2008 R2 SP3', 'SELECT replica_id FROM sys.databases', 207],
    ['2008 R2 SP3', 'SELECT mirroring_witness_state_desc, mirroring_safety_level_desc FROM sys.database_mirroring', 0],
    ['2005 SP4', 'SELECT is_cdc_enabled FROM sys.databases', 207],
    ['2012 SP4', 'SELECT replica_id FROM sys.databases', 0],
    ['2012 SP4', 'SELECT is_primary_replica FROM sys.dm_hadr_database_replica_states', 207],
    ['2014 SP3', 'SELECT secondary_lag_seconds FROM sys.dm_hadr_database_replica_states', 207],
    ['2014 SP3', 'SELECT redo_queue_size, redo_rate FROM sys.dm_hadr_database_replica_states', 0],
    ['2016 SP3', 'SELECT secondary_lag_seconds FROM sys.dm_hadr_database_replica_states', 0],
    ['2016 SP3', 'SELECT cluster_type_desc FROM sys.availability_groups', 207],
    ['2019', 'SELECT is_contained FROM sys.availability_groups', 207],
    ['2022', 'SELECT is_contained FROM sys.availability_groups', 0],
    ['Managed Instance', 'SELECT is_contained, cluster_type_desc FROM sys.availability_groups', 0],
  ];
  for (const [name, sql, msg] of rows) {
    test(`${name}: ${sql} → ${msg === 0 ? 'rows' : `Msg ${msg}`}`, async () => {
      const r = RELEASES.find((x) => x.name === name)!;
      const s = await start(at(r.hadr && /availability|dm_hadr/.test(sql) ? 'ag-primary' : 'principal', r));
      try {
        // tsql asks for TDS 7.4 and follows the server down to its own version, as against a real server
        const out = await tsql({ host: s.sim.host, port: s.sim.port, user: 'sa', password: s.password('sa'), encryption: 'off', statements: [sql], dir, limitMs: 8000 });
        assert.equal(out.status, 0, `tsql did not end by itself: ${out.out}`);
        if (msg === 0) {
          assert.doesNotMatch(out.out, /Msg \d+/, out.out);
          assert.match(out.out, /\(\d+ rows? affected\)/, out.out);
        } else {
          assert.match(out.out, new RegExp(`Msg ${msg} \\(severity 16, state 1\\)`), out.out);
        }
      } finally {
        await s.sim.close();
      }
    });
  }
});

describe('distributed and contained availability groups', () => {
  const sims: Sim[] = [];
  after(async () => { await Promise.all(sims.map((s) => s.sim.close())); });

  test('distributed: the global primary passes --role primary, the forwarder does not', async () => {
    const [global, forwarder] = [await start(scenarioFile('dag-global-primary')), await start(scenarioFile('dag-forwarder'))];
    sims.push(global, forwarder);
    // a distributed group fails over only by hand: the global primary passes once its partner says it is not primary
    const a = await check('x64', global, 'monitor_full', 'salesdb', ['--partner', partnerOf(forwarder)]);
    assert.equal(a.status, 0, a.reason);
    assert.match((await check('x64', global, 'monitor_full', 'salesdb')).reason, /availability group "dag1": CLUSTER_TYPE = NONE/);
    assert.match(a.reason, /availability group "ag1" and availability group "dag1": local replica PRIMARY, ONLINE/);
    const b = await check('x64', forwarder, 'monitor_full', 'salesdb');
    assert.equal(b.status, 1, b.reason);
    assert.match(b.reason, /availability group "dag1": availability replica role is SECONDARY, not PRIMARY \(of a distributed availability group only the global primary passes\)/);
    // nor any other role: it is PRIMARY of its own group (not a secondary), and its distributed
    // group's replica takes no connections (the docs are silent on reads there: the failing side)
    for (const role of ['secondary', 'online']) {
      const c = await check('x64', forwarder, 'monitor_full', 'salesdb', ['--role', role]);
      assert.equal(c.status, 1, `${role}: ${c.reason}`);
    }
  });

  test('contained (SQL Server 2022): judged as any availability group on the instance', async () => {
    for (const [base, exit] of [['ag-primary', 0], ['ag-secondary-sync', 1]] as const) {
      const s = scenarioFile(base);
      s.availability_groups = s.availability_groups!.map((g) => ({ ...g, is_contained: true }));
      const sim = await start(s);
      sims.push(sim);
      const r = await check('x64', sim, 'monitor', 'agdb', ['--allow-standalone']);
      assert.equal(r.status, exit, `${base}: ${r.reason}`);
    }
  });
});
