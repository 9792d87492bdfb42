// Every fault of the table in faults.ts, seen from the mssql client: each ends in the error (or
// the behaviour) described, within a bounded time — never a hang.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sql from 'mssql';
import { startSqlSim, type SqlSim } from './server.ts';
import { FAULTS, parseFault, type Fault, type FaultName, type MutateInfo } from './faults.ts';
import { makeTestCertificates, type TestCertificates } from './certs.ts';
import { scenarioFile } from './catalog.ts';
import type { Scenario } from './types.ts';

const TIMEOUT_MS = 1500;
/** a case must end within this, whatever the server does */
const BOUND_MS = 4 * TIMEOUT_MS;
const QUERY = "SELECT d.name, d.state_desc FROM sys.databases AS d WHERE d.name = @db";

let scenario: Scenario;
let password: string;
let certs: TestCertificates;
let dir: string;

before(() => {
  scenario = scenarioFile('principal');
  password = scenario.logins.find((l) => l.name === 'monitor')!.password;
  dir = mkdtempSync(join(tmpdir(), 'sqlsim-faults-'));
  certs = makeTestCertificates(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Outcome = ({ ok: true; rows: number } | { ok: false; code: string; message: string; number?: number }) & { ms?: number };

interface Case {
  fault: Fault;
  /** 'connect': the fault is on before the client connects; 'query': it is switched on once the client is logged in */
  when: 'connect' | 'query';
  encrypt?: boolean | 'strict';
  expect: (o: Outcome, sim: SqlSim) => void;
  title?: string;
}

const fails = (code: RegExp, message?: RegExp) => (o: Outcome) => {
  assert.equal(o.ok, false, 'expected an error');
  if (o.ok) return;
  assert.match(o.code, code, `code of: ${o.message}`);
  if (message) assert.match(o.message, message);
};

const CASES: Case[] = [
  {
    fault: { name: 'refuse' }, when: 'connect',
    expect: (o, sim) => { fails(/ESOCKET/, /Could not connect/)(o); assert.equal(sim.stats.connections, 0); },
  },
  {
    fault: { name: 'reset-on-accept' }, when: 'connect',
    expect: (o, sim) => { fails(/ESOCKET/)(o); assert.ok(sim.stats.connections >= 1); assert.equal(sim.stats.bytesIn, 0); },
  },
  { fault: { name: 'black-hole' }, when: 'connect', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'stall-after-prelogin' }, when: 'connect', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'stall-after-prelogin' }, when: 'connect', encrypt: true, title: 'stall-after-prelogin (client wants TLS)', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'stall-after-login' }, when: 'connect', title: 'stall-after-login (the initial SET batch hangs)', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'stall-after-login' }, when: 'query', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'delay', ms: 3 * TIMEOUT_MS }, when: 'query', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'delay', ms: 3 * TIMEOUT_MS }, when: 'connect', title: 'delay (during login)', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'delay', ms: 200 }, when: 'query', title: 'delay shorter than the timeout: the answer comes, late', expect: (o) => assert.deepEqual(o, { ok: true, rows: 1 }) },
  { fault: { name: 'reset-mid-result' }, when: 'query', expect: fails(/ESOCKET|ECONNRESET|EPROTOCOL/) },
  // tedious throws garbage tokens from an event handler: an uncaught exception its user must catch
  { fault: { name: 'garbage' }, when: 'query', expect: fails(/UNCAUGHT/, /Unknown type: 0/) },
  { fault: { name: 'garbage', phase: 'prelogin' }, when: 'connect', expect: fails(/./) },
  // unsolicited bytes on an idle connection: tedious's packet reader fails then, and says so to
  // the next request (nothing is thrown while the connection is idle)
  { fault: { name: 'idle-garbage' }, when: 'query', expect: fails(/EREQUEST|ESOCKET/, /Unable to process incoming packet/) },
  { fault: { name: 'garbage', phase: 'login' }, when: 'connect', expect: fails(/UNCAUGHT|ESOCKET|ELOGIN/) },
  { fault: { name: 'truncated-packet' }, when: 'query', expect: fails(/ESOCKET|ECONNRESET/) },
  { fault: { name: 'truncated-packet', stall: true }, when: 'query', title: 'truncated-packet then silence', expect: fails(/ETIMEOUT/) },
  { fault: { name: 'truncated-packet', phase: 'login' }, when: 'connect', expect: fails(/ESOCKET|ETIMEOUT/) },
  { fault: { name: 'wrong-tds-version' }, when: 'connect', expect: fails(/ETDS/, /unknown TDS version/) },
  // (a size out of MS-TDS's bounds is what mssql-role-check refuses: test/negotiation.test.ts; the
  // mssql client here would take it, and at 4 bytes loop forever)
  {
    fault: { name: 'packet-size', text: '512' }, when: 'connect', title: 'packet-size 512 (the smallest MS-TDS allows): the session works at that size',
    expect: (o) => assert.deepEqual(o, { ok: true, rows: 1 }),
  },
  { fault: { name: 'tls-handshake-failure' }, when: 'connect', encrypt: true, expect: fails(/ESOCKET/, /handshake|alert|SSL/i) },
  { fault: { name: 'tls-handshake-failure' }, when: 'connect', encrypt: 'strict', expect: fails(/ESOCKET/, /handshake|alert|SSL/i) },
  { fault: { name: 'login-failure' }, when: 'connect', expect: fails(/ELOGIN/, /^Login failed for user 'monitor'\.$/) },
  { fault: { name: 'login-failure', number: 4060, severity: 11, message: 'Cannot open database "appdb" requested by the login. The login failed.' }, when: 'connect', title: 'login-failure with another error', expect: fails(/ELOGIN/, /Cannot open database/) },
  {
    fault: { name: 'query-error', number: 1205, message: 'Transaction (Process ID 52) was deadlocked.', severity: 13 }, when: 'query',
    expect: (o) => {
      fails(/EREQUEST/, /deadlocked/)(o);
      assert.equal(!o.ok && o.number, 1205);
    },
  },
  { fault: { name: 'oversized-result', rows: 20_000 }, when: 'query', title: 'oversized-result: the client receives every row', expect: (o) => assert.deepEqual(o, { ok: true, rows: 20_000 }) },
  { fault: { name: 'server-close' }, when: 'query', expect: fails(/ESOCKET|ECONNRESET/, /Connection lost|closed|hang up/) },
  {
    fault: { name: 'mutate', mutate: (bytes, info) => (info.phase === 'query' ? Buffer.from(bytes).fill(0x42, 8) : bytes) }, when: 'query',
    title: 'mutate: the query reply rewritten to nonsense', expect: fails(/UNCAUGHT|EREQUEST|ESOCKET/),
  },
  {
    fault: { name: 'mutate', mutate: (bytes) => bytes }, when: 'connect',
    title: 'mutate: an identity rewrite changes nothing', expect: (o) => assert.deepEqual(o, { ok: true, rows: 1 }),
  },
  // Aimed with `on: 'rpc'` and on from the start: tedious's SET batch after the login is answered
  // as usual, the query with a parameter (an RPC) meets the fault.
  ...([
    [{ name: 'stall-after-login' }, fails(/ETIMEOUT/)],
    [{ name: 'delay', ms: 3 * TIMEOUT_MS }, fails(/ETIMEOUT/)],
    [{ name: 'reset-mid-result' }, fails(/ESOCKET|ECONNRESET|EPROTOCOL/)],
    [{ name: 'garbage' }, fails(/UNCAUGHT/, /Unknown type: 0/)],
    [{ name: 'truncated-packet' }, fails(/ESOCKET|ECONNRESET/)],
    [{ name: 'query-error', number: 1205, message: 'Transaction (Process ID 52) was deadlocked.', severity: 13 }, (o: Outcome) => { fails(/EREQUEST/, /deadlocked/)(o); assert.equal(!o.ok && o.number, 1205); }],
    [{ name: 'oversized-result', rows: 20_000 }, (o: Outcome) => assert.deepEqual(o, { ok: true, rows: 20_000 })],
    [{ name: 'server-close' }, fails(/ESOCKET|ECONNRESET/, /Connection lost|closed|hang up/)],
  ] as Array<[Omit<Fault, 'on'>, (o: Outcome) => void]>).map(([fault, expect]): Case => ({
    fault: { ...fault, on: 'rpc' }, when: 'connect',
    expect: (o, sim) => {
      expect(o);
      // (mssql's pool logs in twice: once to try the settings, once for the request)
      const { logins, batches, rpcs } = sim.stats;
      assert.ok(logins >= 1 && batches >= logins && rpcs === 1, `logins, a SET batch after each, then the query: ${JSON.stringify({ logins, batches, rpcs })}`);
    },
  })),
  {
    fault: { name: 'query-error', on: 'batch' }, when: 'connect',
    title: 'query-error on batch: only the SET batch fails, the query with a parameter passes', expect: (o) => assert.deepEqual(o, { ok: true, rows: 1 }),
  },
];

const CLIENT = fileURLToPath(new URL('./fault-client.ts', import.meta.url));

function clientConfig(sim: SqlSim, encrypt: boolean): sql.config {
  return {
    server: '127.0.0.1',
    port: sim.port,
    user: 'monitor',
    password,
    database: 'master',
    connectionTimeout: TIMEOUT_MS,
    requestTimeout: TIMEOUT_MS,
    pool: { max: 1, min: 0 },
    validateConnection: false,
    options: { encrypt, trustServerCertificate: true },
  } as sql.config;
}

/** Runs fault-client.ts against the server; the fault goes on before it connects or once it is logged in. */
async function attempt(sim: SqlSim, c: Pick<Case, 'fault' | 'when' | 'encrypt'>): Promise<Outcome> {
  return (await timedAttempt(sim, c)).outcome;
}

/** The outcome, and how long the client took from connecting (or from the faulty request) to it. */
async function timedAttempt(sim: SqlSim, c: Pick<Case, 'fault' | 'when' | 'encrypt'>): Promise<{ outcome: Outcome; ms: number }> {
  if (c.when === 'connect') await sim.setFault(c.fault);
  const child = spawn(process.execPath, [CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS + 5000);
  try {
    child.stdin.write(JSON.stringify({ port: sim.port, user: 'monitor', password, encrypt: c.encrypt ?? false, when: c.when, timeoutMs: TIMEOUT_MS, query: QUERY }) + '\n');
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === 'ready') {
        await sim.setFault(c.fault);
        child.stdin.write('go\n');
      } else if (line.startsWith('{')) {
        const outcome = JSON.parse(line) as Outcome;
        const ms = outcome.ms ?? Infinity;
        delete outcome.ms;
        return { outcome, ms };
      }
    }
    throw new Error('the client ended without an outcome');
  } finally {
    clearTimeout(killer);
    child.kill();
  }
}

describe('faults seen from mssql', { timeout: 120_000, concurrency: 4 }, () => {
  it('the table covers every fault', () => {
    const covered = new Set(CASES.map((c) => c.fault.name));
    assert.deepEqual(Object.keys(FAULTS).filter((n) => !covered.has(n as FaultName)), []);
  });

  for (const c of CASES) {
    it(`${c.title ?? c.fault.name} (${[c.when, c.fault.phase && `at ${c.fault.phase}`, c.fault.on && `on ${c.fault.on}`, c.encrypt && `encrypt ${c.encrypt}`].filter(Boolean).join(', ')})`, async () => {
      const sim = await startSqlSim({ scenario, encryption: 'off', tls: { cert: certs.cert, key: certs.key } });
      try {
        const { outcome, ms } = await timedAttempt(sim, c);
        c.expect(outcome, sim);
        assert.ok(ms < BOUND_MS, `took ${ms} ms`);
      } finally {
        await sim.close();
      }
    });
  }

  it('a fault changed while the server runs applies to connections already open', async () => {
    const sim = await startSqlSim({ scenario });
    try {
      const pool = new sql.ConnectionPool(clientConfig(sim, false));
      await pool.connect();
      try {
        await sim.setFault({ name: 'query-error', number: 50001, message: 'first' });
        await assert.rejects(pool.request().query('SELECT 1'), /first/);
        await sim.setFault(undefined);
        assert.equal((await pool.request().query('SELECT 1 AS one')).recordset[0].one, 1);
      } finally {
        await pool.close();
      }
    } finally {
      await sim.close();
    }
  });

  it("'on' picks the kind of request: a SQL batch or an RPC (sp_executesql)", async () => {
    const sim = await startSqlSim({ scenario });
    try {
      const pool = new sql.ConnectionPool(clientConfig(sim, false));
      await pool.connect();
      try {
        const batch = () => pool.request().batch('SELECT 1 AS one');
        const rpc = () => pool.request().input('one', sql.Int, 1).query('SELECT @one AS one');
        await sim.setFault({ name: 'query-error', number: 50001, message: 'rpc only', on: 'rpc' });
        assert.equal((await batch()).recordset[0].one, 1);
        await assert.rejects(rpc(), /rpc only/);
        await sim.setFault({ name: 'query-error', number: 50002, message: 'batch only', on: 'batch' });
        await assert.rejects(batch(), /batch only/);
        assert.equal((await rpc()).recordset[0].one, 1);
      } finally {
        await pool.close();
      }
    } finally {
      await sim.close();
    }
  });

  it("'on' is refused for a fault that never strikes a request", async () => {
    const sim = await startSqlSim({ scenario });
    try {
      for (const fault of [{ name: 'login-failure', on: 'rpc' }, { name: 'garbage', phase: 'login', on: 'rpc' }, { name: 'delay', on: 'query' }] as Fault[]) {
        await assert.rejects(sim.setFault(fault), /does not strike a request|on must be/, JSON.stringify(fault));
        assert.throws(() => parseFault(fault), /does not strike a request|on must be/, JSON.stringify(fault));
      }
      assert.equal(sim.fault, undefined);
      assert.deepEqual(parseFault({ name: 'garbage', on: 'rpc' }), { name: 'garbage', on: 'rpc' });
    } finally {
      await sim.close();
    }
  });

  it("'refuse' switched off listens again on the same port", async () => {
    const sim = await startSqlSim({ scenario, fault: { name: 'refuse' } });
    try {
      const port = sim.port;
      assert.equal((await attempt(sim, { fault: { name: 'refuse' }, when: 'connect' })).ok, false);
      await sim.setFault(undefined);
      assert.equal(sim.port, port);
      assert.deepEqual(await attempt(sim, { fault: { name: 'mutate', mutate: (b) => b }, when: 'query' }), { ok: true, rows: 1 });
    } finally {
      await sim.close();
    }
  });

  it('the mutate hook sees every reply with its phase, TLS flights included', async () => {
    const seen: MutateInfo[] = [];
    const sim = await startSqlSim({
      scenario, encryption: 'off', tls: { cert: certs.cert, key: certs.key },
      fault: { name: 'mutate', mutate: (bytes, info) => { seen.push(info); return bytes; } },
    });
    try {
      const outcome = await attempt(sim, { fault: sim.fault!, when: 'connect', encrypt: true });
      assert.deepEqual(outcome, { ok: true, rows: 1 });
      const phases = [...new Set(seen.map((i) => i.phase))];
      assert.deepEqual(phases, ['prelogin', 'tls', 'login', 'query']);
    } finally {
      await sim.close();
    }
  });
});
