// Split brain, end to end: pairs of sqlsims in the situations where two servers could both claim
// one database (a forced-service mirror, a CLUSTER_TYPE = NONE group with two PRIMARYs, a
// recovered standalone copy, a principal that lost its witness), each server checked by the packed
// binary alone and with --partner pointing at the other. Every row says what each run must exit,
// and no row ever passes both servers. Then the partner that cannot be asked: refused, or silent
// until the deadline, where only a server that holds quorum passes. The rule is README.md's
// "Split brain" table; test/verdict.test.ts has it row by row as a pure function.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { BIN_X64 } from './helpers/paths.ts';
import { startSqlSim, type SqlSim } from './sqlsim/server.ts';
import { scenarioFile } from './sqlsim/scenarios.ts';
import type { Scenario } from './sqlsim/types.ts';
import { run } from './peers/harness.ts';

const LOGIN = 'monitor_full';
const sims: SqlSim[] = [];
after(async () => { await Promise.all(sims.map((s) => s.close())); });

async function start(s: Scenario): Promise<SqlSim> {
  const sim = await startSqlSim({ scenario: s, host: '127.0.0.1' });
  sims.push(sim);
  return sim;
}
const addr = (host: string, port: number) => `${host}:${port}`;

interface Outcome { status: number | null; reason: string; ms: number }
async function check(sim: SqlSim, scenario: Scenario, database: string, extra: string[], timeout = '5'): Promise<Outcome> {
  assert.ok(existsSync(BIN_X64), `${BIN_X64} is missing: run make first`);
  const password = scenario.logins.find((l) => l.name === LOGIN)!.password;
  const args = ['--host', sim.host, '--port', String(sim.port), '--user', LOGIN, '--database', database, '--timeout', timeout, '--json',
    ...(extra.includes('--encrypt') ? [] : ['--encrypt', 'off']), ...extra];
  const r = await run(BIN_X64, args, { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password }, limitMs: 20_000 });
  let reason = `${r.stdout} ${r.stderr}`;
  try {
    reason = (JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { reason: string }).reason;
  } catch { /* the raw output is the reason */ }
  assert.ok(!reason.includes(password), 'no password in the output');
  return { status: r.status, reason, ms: r.ms };
}

/** A scenario with its database's witness (and mirroring) state changed. */
function mirroringAs(file: string, state: string, witness: string | null, role?: string): Scenario {
  const s = scenarioFile(file);
  const m = s.database_mirroring![0];
  m.mirroring_state_desc = state;
  if (role) m.mirroring_role_desc = role;
  if (role === 'PRINCIPAL') s.databases[0].state_desc = 'ONLINE';
  if (witness === null) {
    delete m.mirroring_witness_name;
    delete m.mirroring_witness_state_desc;
  } else {
    m.mirroring_witness_state_desc = witness;
  }
  return s;
}

interface Pair {
  name: string;
  a: Scenario;
  b: Scenario;
  database: string;
  /** options for every run of the row */
  argv?: string[];
  /** exits: a alone, b alone, a --partner b, b --partner a */
  exits: [number, number, number, number];
  /** a piece of the reason of each run */
  reasons: [string, string, string, string];
}

const pairs: Pair[] = [
  {
    name: 'mirroring with a witness, all connected',
    a: scenarioFile('witness-principal'), b: scenarioFile('witness-mirror'), database: 'appdb',
    exits: [0, 1, 0, 1], reasons: ['PRINCIPAL, SYNCHRONIZED, witness CONNECTED', 'RESTORING', 'database RESTORING', 'RESTORING'],
  },
  {
    // the principal lost mirror and witness; the mirror failed over with the witness
    name: 'principal lost its quorum, the mirror failed over with the witness',
    a: mirroringAs('witness-principal', 'DISCONNECTED', 'DISCONNECTED'), b: mirroringAs('witness-mirror', 'DISCONNECTED', 'CONNECTED', 'PRINCIPAL'), database: 'appdb',
    exits: [1, 0, 1, 1], reasons: ['lost quorum', 'witness CONNECTED', 'lost quorum', 'also claims database "appdb"'],
  },
  {
    name: 'forced service without a witness: two PRINCIPALs, both DISCONNECTED',
    a: scenarioFile('split-forced-old-principal'), b: scenarioFile('split-forced-new-principal'), database: 'appdb',
    exits: [1, 1, 1, 1], reasons: ['no witness', 'no witness', 'also claims database "appdb" (mirroring PRINCIPAL, DISCONNECTED)', 'also claims'],
  },
  {
    name: 'forced service without a witness, with --allow-standalone: the partner still catches it',
    a: scenarioFile('split-forced-old-principal'), b: scenarioFile('split-forced-new-principal'), database: 'appdb',
    argv: ['--allow-standalone'],
    // alone, --allow-standalone accepts the risk its help names; so only the --partner runs count here
    exits: [0, 0, 1, 1], reasons: ['PRINCIPAL, DISCONNECTED', 'PRINCIPAL, DISCONNECTED', 'also claims', 'also claims'],
  },
  {
    name: 'CLUSTER_TYPE = NONE, two PRIMARYs after a forced failover',
    a: scenarioFile('split-ag-none-a'), b: scenarioFile('split-ag-none-b'), database: 'agdb',
    exits: [1, 1, 1, 1], reasons: ['CLUSTER_TYPE = NONE', 'CLUSTER_TYPE = NONE', 'also claims database "agdb" (availability group "agnone": replica PRIMARY)', 'also claims'],
  },
  {
    name: 'CLUSTER_TYPE = NONE, one primary and its secondary',
    a: scenarioFile('ag-primary'), b: scenarioFile('ag-secondary-sync'), database: 'agdb',
    exits: [1, 1, 0, 1], reasons: ['CLUSTER_TYPE = NONE', 'SECONDARY, not PRIMARY', 'replica SECONDARY', 'SECONDARY, not PRIMARY'],
  },
  {
    name: 'recovered standalone copies on both servers',
    a: scenarioFile('split-recovered-a'), b: scenarioFile('split-recovered-b'), database: 'appdb',
    exits: [1, 1, 1, 1], reasons: ['give --allow-standalone', 'give --allow-standalone', 'give --allow-standalone', 'give --allow-standalone'],
  },
  {
    name: 'recovered standalone copies, --allow-standalone with --partner',
    a: scenarioFile('split-recovered-a'), b: scenarioFile('split-recovered-b'), database: 'appdb',
    argv: ['--allow-standalone'],
    exits: [0, 0, 1, 1], reasons: ['neither mirrored', 'neither mirrored', 'also claims database "appdb" (database ONLINE, READ_WRITE', 'also claims'],
  },
  {
    name: 'a recovered copy beside the old principal (witness-less)',
    a: scenarioFile('split-forced-old-principal'), b: scenarioFile('split-recovered-b'), database: 'appdb',
    exits: [1, 1, 1, 1], reasons: ['no witness', 'give --allow-standalone', 'also claims', 'give --allow-standalone'],
  },
  {
    name: 'mirroring without a witness, connected',
    a: scenarioFile('principal'), b: scenarioFile('mirror'), database: 'appdb',
    exits: [0, 1, 0, 1], reasons: ['PRINCIPAL, SYNCHRONIZED', 'RESTORING', 'database RESTORING', 'RESTORING'],
  },
];

for (const p of pairs) {
  test(`split brain: ${p.name}`, { timeout: 120_000 }, async () => {
    const [a, b] = [await start(p.a), await start(p.b)];
    const argv = p.argv ?? [];
    const runs = [
      await check(a, p.a, p.database, argv),
      await check(b, p.b, p.database, argv),
      await check(a, p.a, p.database, [...argv, '--partner', addr(b.host, b.port)]),
      await check(b, p.b, p.database, [...argv, '--partner', addr(a.host, a.port)]),
    ];
    const label = ['a alone', 'b alone', 'a --partner b', 'b --partner a'];
    runs.forEach((r, i) => {
      assert.equal(r.status, p.exits[i], `${label[i]}: ${r.reason}`);
      assert.ok(r.reason.includes(p.reasons[i]), `${label[i]}: ${JSON.stringify(r.reason)} lacks ${JSON.stringify(p.reasons[i])}`);
    });
    // with --partner, never two; alone, never two unless the row accepts the risk with --allow-standalone
    assert.ok(!(runs[2].status === 0 && runs[3].status === 0), 'both pass with --partner');
    if (!argv.includes('--allow-standalone')) assert.ok(!(runs[0].status === 0 && runs[1].status === 0), 'both pass alone');
  });
}

// --- a partner that cannot be asked: quorum decides

/** A TCP port that accepts and then says nothing (a hung server), and one that refuses. */
async function silentPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const held: Socket[] = [];
  const server: Server = createServer((sock) => { held.push(sock); sock.on('error', () => {}); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise((resolve) => { held.forEach((s) => s.destroy()); server.close(() => resolve()); }) };
}
async function refusedPort(): Promise<number> {
  const s = await silentPort();
  await s.close();
  return s.port;
}

function wsfc(file: string): Scenario {
  const s = scenarioFile(file);
  s.availability_groups = s.availability_groups!.map((g) => ({ ...g, cluster_type_desc: 'WSFC' }));
  return s;
}

interface Unreachable { name: string; scenario: Scenario; database: string; argv?: string[]; exit: number; reason: string }
const unreachable: Unreachable[] = [
  { name: 'principal, witness CONNECTED', scenario: scenarioFile('witness-principal'), database: 'appdb', exit: 0, reason: 'but this server holds quorum (witness "TCP://sqlw.example:5022" CONNECTED)' },
  { name: 'principal DISCONNECTED, witness CONNECTED', scenario: mirroringAs('witness-principal', 'DISCONNECTED', 'CONNECTED'), database: 'appdb', exit: 0, reason: 'holds quorum' },
  { name: 'principal without a witness', scenario: scenarioFile('principal'), database: 'appdb', exit: 1, reason: 'has no witness or cluster' },
  { name: 'principal without a witness, DISCONNECTED', scenario: scenarioFile('split-forced-old-principal'), database: 'appdb', exit: 1, reason: 'has no witness or cluster' },
  { name: 'AG primary, WSFC', scenario: wsfc('ag-primary'), database: 'agdb', exit: 0, reason: 'holds quorum (availability group "ag1": WSFC cluster, replica HEALTHY)' },
  { name: 'AG primary, CLUSTER_TYPE = NONE', scenario: scenarioFile('ag-primary'), database: 'agdb', exit: 1, reason: 'has no witness or cluster' },
  { name: 'standalone, --allow-standalone', scenario: scenarioFile('split-recovered-a'), database: 'appdb', argv: ['--allow-standalone'], exit: 1, reason: 'has no witness or cluster' },
];

for (const u of unreachable) {
  test(`partner refused: ${u.name} → exit ${u.exit}`, { timeout: 60_000 }, async () => {
    const sim = await start(u.scenario);
    const r = await check(sim, u.scenario, u.database, [...(u.argv ?? []), '--partner', addr('127.0.0.1', await refusedPort())]);
    assert.equal(r.status, u.exit, r.reason);
    assert.ok(r.reason.includes('cannot be asked (network error'), r.reason);
    assert.ok(r.reason.includes(u.reason), `${JSON.stringify(r.reason)} lacks ${JSON.stringify(u.reason)}`);
  });
}

test('partner silent until the deadline: a server with quorum still passes within --timeout, one without fails', { timeout: 60_000 }, async () => {
  const hung = await silentPort();
  try {
    for (const [scenario, database, exit] of [[scenarioFile('witness-principal'), 'appdb', 0], [scenarioFile('principal'), 'appdb', 1]] as const) {
      const sim = await start(scenario);
      const r = await check(sim, scenario, database, ['--partner', addr('127.0.0.1', hung.port)], '2');
      assert.equal(r.status, exit, r.reason);
      assert.match(r.reason, /partner 127\.0\.0\.1:\d+ cannot be asked \(no answer within --timeout, during (prelogin|login)\)/);
      assert.ok(r.ms < 2000 + 1500, `${Math.round(r.ms)} ms for a 2 s --timeout`);
    }
  } finally {
    await hung.close();
  }
});

test('partner given as host alone: the same port as --port; [IPv6]:PORT is accepted', { timeout: 60_000 }, async () => {
  const s = scenarioFile('witness-principal');
  const sim = await start(s);
  // the partner at the same address and port is this very server: it claims the role, so the check fails
  const self = await check(sim, s, 'appdb', ['--partner', '127.0.0.1']);
  assert.equal(self.status, 1, self.reason);
  assert.match(self.reason, new RegExp(`partner 127\\.0\\.0\\.1:${sim.port} also claims database "appdb"`));
  const v6 = await check(sim, s, 'appdb', ['--partner', `[::1]:${await refusedPort()}`]);
  assert.equal(v6.status, 0, v6.reason);
  assert.match(v6.reason, /partner \[::1\]:\d+ cannot be asked/);
});

test('-v prints a line for the partner, and --json carries its facts', { timeout: 60_000 }, async () => {
  const [pa, pb] = [scenarioFile('witness-principal'), scenarioFile('witness-mirror')];
  const [a, b] = [await start(pa), await start(pb)];
  const password = pa.logins.find((l) => l.name === LOGIN)!.password;
  const r = await run(BIN_X64, ['--host', a.host, '--port', String(a.port), '--user', LOGIN, '--database', 'appdb', '--timeout', '5', '--encrypt', 'off',
    '--json', '-v', '--partner', addr(b.host, b.port)], { env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password }, limitMs: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /database "appdb": PASS: .*partner 127\.0\.0\.1:\d+: database RESTORING/);
  assert.match(lines[1], new RegExp(`partner 127\\.0\\.0\\.1:${b.port}: database "appdb" \\[state RESTORING`));
  const json = JSON.parse(r.stdout) as { partner: { server: string; reached: boolean; facts: Array<{ state_desc: string }> }; timings: Record<string, number> };
  assert.equal(json.partner.server, addr(b.host, b.port));
  assert.equal(json.partner.reached, true);
  assert.equal(json.partner.facts[0].state_desc, 'RESTORING');
  assert.equal(typeof json.timings.partner, 'number');
  assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password));
});
