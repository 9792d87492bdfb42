// The simulator's TDS seen from the client the product uses (mssql / tedious): plain, TLS inside
// PRELOGIN, TDS 8.0 strict with a CA file; parameterised queries; every column type; multi-packet
// messages both ways; login and query errors; ATTENTION; RESETCONNECTION on pool reuse.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sql from 'mssql';
import { Connection } from 'tedious';
import { startSqlSim, type SqlSim, type EncryptionMode } from './server.ts';
import { makeTestCertificates, type TestCertificates } from './certs.ts';
import { FAKE_SCENARIO, FakeEngine, TYPES_ROW } from './fake-engine.ts';
import { scenarioFile } from './scenarios.ts';

const USER = 'probe';
const PASSWORD = 'sim-Pass-1'; // throwaway password of the simulated login

let certs: TestCertificates;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlsim-mssql-'));
  certs = makeTestCertificates(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function withSim<T>(options: { encryption?: EncryptionMode; engine?: FakeEngine; replyDelayMs?: number }, body: (sim: SqlSim, engine: FakeEngine) => Promise<T>): Promise<T> {
  const engine = options.engine ?? new FakeEngine();
  const sim = await startSqlSim({
    scenario: FAKE_SCENARIO,
    engine,
    encryption: options.encryption ?? 'off',
    tls: { cert: certs.cert, key: certs.key },
    replyDelayMs: options.replyDelayMs,
  });
  try {
    return await body(sim, engine);
  } finally {
    await sim.close();
  }
}

function config(sim: SqlSim, extra: Partial<sql.config> & { options?: sql.config['options'] } = {}): sql.config {
  return {
    server: 'localhost',
    port: sim.port,
    user: USER,
    password: PASSWORD,
    database: 'appdb',
    connectionTimeout: 3000,
    requestTimeout: 3000,
    pool: { max: 1, min: 0 },
    ...extra,
    options: { encrypt: false, trustServerCertificate: true, ...extra.options },
  };
}

async function withPool<T>(cfg: sql.config, body: (pool: sql.ConnectionPool) => Promise<T>): Promise<T> {
  const pool = new sql.ConnectionPool(cfg);
  await pool.connect();
  try {
    return await body(pool);
  } finally {
    await pool.close();
  }
}

describe('mssql against sqlsim', { timeout: 60_000 }, () => {
  const modes: { name: string; server: EncryptionMode; encrypt: boolean | 'strict'; tls: number; strict: number }[] = [
    { name: 'plain (client does not support encryption)', server: 'off', encrypt: false, tls: 0, strict: 0 },
    { name: 'plain against a server without certificate', server: 'none', encrypt: false, tls: 0, strict: 0 },
    { name: 'encrypt: true + trustServerCertificate (TLS inside PRELOGIN)', server: 'off', encrypt: true, tls: 1, strict: 0 },
    { name: 'encrypt: true against Force Encryption (ENCRYPT_REQ)', server: 'required', encrypt: true, tls: 1, strict: 0 },
    { name: "encrypt: 'strict' (TDS 8.0, ALPN tds/8.0) with the CA file", server: 'strict', encrypt: 'strict', tls: 1, strict: 1 },
    { name: "encrypt: 'strict' against a server that also takes TDS 7.x", server: 'on', encrypt: 'strict', tls: 1, strict: 1 },
  ];
  for (const mode of modes) {
    it(`${mode.name}: runs a parameterised query`, () =>
      withSim({ encryption: mode.server }, async (sim, engine) => {
        const cfg = config(sim, {
          options: {
            encrypt: mode.encrypt as boolean,
            trustServerCertificate: mode.encrypt !== 'strict',
            cryptoCredentialsDetails: { ca: certs.ca },
          },
        });
        await withPool(cfg, async (pool) => {
          const r = await pool.request().input('db', sql.NVarChar(128), 'appdb').input('n', sql.Int, 7).query('select echo from x where name = @db and id = @n');
          assert.deepEqual(r.recordset.map((x: { name: string; value: unknown }) => [x.name, x.value]), [['db', 'appdb'], ['n', 7]]);
        });
        const call = engine.calls.find((c) => c.sql.startsWith('select echo'));
        assert.deepEqual(call?.params, { db: 'appdb', n: 7 });
        assert.equal(call?.session.database, 'appdb');
        assert.equal(call?.session.login.name, USER);
        // mssql logs in twice (connect, then the pool's validation); each login did its own handshake.
        assert.ok(sim.stats.logins >= 1);
        assert.equal(sim.stats.tlsHandshakes, mode.tls * sim.stats.logins);
        assert.equal(sim.stats.strictHandshakes, mode.strict * sim.stats.logins);
      }));
  }

  it('strict mode refuses a client that does not start with TLS', () =>
    withSim({ encryption: 'strict' }, async (sim) => {
      await assert.rejects(withPool(config(sim, { options: { encrypt: true } }), async () => {}), (err: Error) => /ESOCKET|Connection lost|closed|socket hang up/i.test(`${(err as { code?: string }).code} ${err.message}`));
      assert.equal(sim.stats.logins, 0);
    }));

  it("Force Encryption refuses a client that cannot encrypt (tedious: \"Server requires encryption\")", () =>
    withSim({ encryption: 'on' }, async (sim) => {
      await assert.rejects(withPool(config(sim), async () => {}), /requires encryption/);
      assert.equal(sim.stats.logins, 0);
    }));

  it('strict mode with an untrusted certificate fails the handshake', () =>
    withSim({ encryption: 'strict' }, async (sim) => {
      await assert.rejects(withPool(config(sim, { options: { encrypt: 'strict' as unknown as boolean } }), async () => {}), /certificate|self[- ]signed|unable to verify/i);
    }));

  it('encodes every column type (ROW and NBCROW) the way tedious decodes it', () =>
    withSim({}, async (sim) => {
      await withPool(config(sim), async (pool) => {
        const r = await pool.request().query('select types');
        const [full, empty] = r.recordset;
        assert.deepEqual(
          Object.values(full).map((v) => (v instanceof Date ? v.toISOString() : v)),
          TYPES_ROW.map((v) => (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? String(v) : v)),
        );
        assert.deepEqual(empty, { i: 0, s: 0, t: null, b: null, bit: false, n: null, g: null, d: new Date(Date.UTC(1900, 0, 1)), v1: null, v2: null });
        const columns = r.recordset.columns;
        assert.equal(columns.i.nullable, false);
        assert.equal(columns.t.nullable, true);
        assert.equal(columns.n.length, 256); // nvarchar(128): tedious reports the length in bytes, as from a real server
        assert.equal(columns.v1.type, sql.Variant);
        assert.equal(columns.g.type, sql.UniqueIdentifier);
        assert.equal(columns.d.type, sql.DateTime);
      });
    }));

  it('decodes typed RPC parameters (int, bigint, bit, nvarchar, varchar, guid, datetime, datetime2, decimal, float, NULL)', () =>
    withSim({}, async (sim, engine) => {
      const when = new Date(Date.UTC(2023, 5, 1, 12, 30, 45, 500));
      await withPool(config(sim), async (pool) => {
        await pool.request()
          .input('i', sql.Int, -5)
          .input('big', sql.BigInt, '1234567890123')
          .input('small', sql.SmallInt, 300)
          .input('tiny', sql.TinyInt, 200)
          .input('yes', sql.Bit, true)
          .input('name', sql.NVarChar(128), 'Zoë')
          .input('long', sql.NVarChar(sql.MAX), 'x'.repeat(5000))
          .input('ascii', sql.VarChar(20), 'abc')
          .input('g', sql.UniqueIdentifier, '6F9619FF-8B86-D011-B42D-00C04FC964FF')
          .input('dt', sql.DateTime, when)
          .input('dt2', sql.DateTime2(3), when)
          .input('dec', sql.Decimal(10, 2), 12.5)
          .input('f', sql.Float, 0.25)
          .input('nothing', sql.NVarChar(10), null)
          .query('select echo');
      });
      const call = engine.calls.find((c) => c.sql === 'select echo');
      assert.ok(call);
      const p = call.params;
      assert.equal(p.i, -5);
      assert.equal(p.big, 1234567890123);
      assert.equal(p.small, 300);
      assert.equal(p.tiny, 200);
      assert.equal(p.yes, true);
      assert.equal(p.name, 'Zoë');
      assert.equal(p.long, 'x'.repeat(5000));
      assert.equal(p.ascii, 'abc');
      assert.equal(p.g, '6F9619FF-8B86-D011-B42D-00C04FC964FF');
      assert.equal((p.dt as Date).toISOString(), when.toISOString());
      assert.equal((p.dt2 as Date).toISOString(), when.toISOString());
      assert.equal(p.dec, 12.5);
      assert.equal(p.f, 0.25);
      assert.equal(p.nothing, null);
    }));

  it('multi-packet messages both ways with packet size 512 (negotiated through ENVCHANGE)', () =>
    withSim({}, async (sim, engine) => {
      const filler = 'a'.repeat(3000);
      await withPool(config(sim, { options: { packetSize: 512 } }), async (pool) => {
        const r = await pool.request().input('pad', sql.NVarChar(sql.MAX), filler).query('select many 300');
        assert.equal(r.recordset.length, 300);
        assert.deepEqual(r.recordset[299], { n: 299, pad: 'p'.repeat(100) });
        assert.deepEqual(r.rowsAffected, [300]);
      });
      assert.equal(engine.calls.find((c) => c.sql === 'select many 300')?.params.pad, filler);
      // 300 rows of ~210 bytes cannot fit one 512-byte packet; the request (6 KB of parameter) neither.
      assert.ok(sim.stats.packetsOut > 100, `packetsOut ${sim.stats.packetsOut}`);
      assert.ok(sim.stats.packetsIn > 12, `packetsIn ${sim.stats.packetsIn}`);
    }));

  it('SQL batches: several result sets, row counts, DONE per statement', () =>
    withSim({}, async (sim) => {
      await withPool(config(sim), async (pool) => {
        const r = await pool.request().batch('select two');
        assert.deepEqual((r.recordsets as sql.IRecordSet<unknown>[]).map((s) => [...s]), [[{ a: 1 }], [{ b: 2 }, { b: 3 }]]);
        assert.deepEqual(r.rowsAffected, [1, 2]);
        const u = await pool.request().batch('update something');
        assert.deepEqual(u.rowsAffected, [3]);
      });
      assert.ok(sim.stats.batches >= 2);
    }));

  const loginFailures: { name: string; cfg: Partial<sql.config>; message: RegExp }[] = [
    { name: 'wrong password', cfg: { password: 'not-the-password' }, message: /^Login failed for user 'probe'\.$/ },
    { name: 'unknown login', cfg: { user: 'nobody' }, message: /^Login failed for user 'nobody'\.$/ },
    { name: 'database that does not exist', cfg: { database: 'nodb' }, message: /Login failed for user 'probe'/ },
    { name: 'database OFFLINE', cfg: { database: 'offlinedb' }, message: /Login failed for user 'probe'/ },
  ];
  for (const c of loginFailures) {
    it(`login failure: ${c.name} → error 18456 class 14, connection closed`, () =>
      withSim({}, async (sim) => {
        const pool = new sql.ConnectionPool(config(sim, c.cfg));
        await assert.rejects(pool.connect(), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ELOGIN');
          assert.match(err.message, c.message);
          return true;
        });
        assert.equal(sim.stats.logins, 0);
        assert.equal(sim.stats.loginFailures, 1);
      }));
  }

  it('login failure as tedious sees the tokens: ERROR 18456, class 14, state 1, then the connection ends', () =>
    withSim({}, async (sim) => {
      const connection = new Connection({
        server: '127.0.0.1',
        options: { port: sim.port, encrypt: false, connectTimeout: 3000 },
        authentication: { type: 'default', options: { userName: USER, password: 'wrong' } },
      });
      const tokens: { number: number; class: number; state: number; message: string }[] = [];
      connection.on('errorMessage', (t) => tokens.push({ number: t.number, class: t.class, state: t.state, message: t.message }));
      const result = await new Promise<Error | undefined>((resolve) => {
        connection.on('connect', (err) => resolve(err));
        connection.connect();
      });
      connection.close();
      assert.match(String(result?.message), /Login failed for user 'probe'/);
      assert.deepEqual(tokens, [{ number: 18456, class: 14, state: 1, message: "Login failed for user 'probe'." }]);
    }));

  const ntlmCases: { name: string; domain: string; user: string; password: string; ok: boolean }[] = [
    { name: 'right password', domain: 'CORP', user: 'winprobe', password: 'sim-Win-Pass-1', ok: true },
    { name: 'domain in lower case', domain: 'corp', user: 'WinProbe', password: 'sim-Win-Pass-1', ok: true },
    { name: 'wrong password', domain: 'CORP', user: 'winprobe', password: 'sim-Win-Pass-2', ok: false },
    { name: 'unknown account', domain: 'CORP', user: 'nobody', password: 'sim-Win-Pass-1', ok: false },
    { name: 'other domain', domain: 'OTHER', user: 'winprobe', password: 'sim-Win-Pass-1', ok: false },
  ];
  for (const c of ntlmCases) {
    it(`Windows login (NTLM over SSPI), ${c.name} → ${c.ok ? 'logged in as CORP\\winprobe' : 'error 18452'}`, () =>
      withSim({ encryption: 'off' }, async (sim, engine) => {
        const cfg = { ...config(sim, { user: c.user, password: c.password, options: { encrypt: true } }), domain: c.domain };
        if (c.ok) {
          await withPool(cfg, async (pool) => {
            assert.equal((await pool.request().query('select databases')).recordset.length, 3);
          });
          assert.equal(engine.calls.at(-1)?.session.login.name, 'CORP\\winprobe');
        } else {
          await assert.rejects(withPool(cfg, async () => {}), (err: Error & { code?: string }) => {
            assert.equal(err.code, 'ELOGIN');
            assert.match(err.message, /untrusted domain/);
            return true;
          });
          assert.equal(sim.stats.logins, 0);
        }
      }));
  }

  it('query errors: 207 invalid column, 208 invalid object, as RequestError with number and class', () =>
    withSim({}, async (sim) => {
      await withPool(config(sim), async (pool) => {
        await assert.rejects(pool.request().query('select no_such_column from sys.databases'), (err: sql.RequestError) => {
          assert.equal(err.number, 207);
          assert.equal(err.class, 16);
          assert.equal(err.message, "Invalid column name 'no_such_column'.");
          assert.equal(err.serverName, 'SIMFAKE');
          return true;
        });
        await assert.rejects(pool.request().batch('select * from nowhere'), (err: sql.RequestError) => err.number === 208);
        // the connection is still usable after an error
        const r = await pool.request().query('select databases');
        assert.ok(r.recordset.length > 0);
      });
    }));

  it('ATTENTION: a cancelled request gets DONE with the attention flag and the connection stays usable', () =>
    withSim({}, async (sim) => {
      // no validation query on acquire: the cancel must hit the request itself
      await withPool({ ...config(sim, { requestTimeout: 10_000 }), validateConnection: false } as sql.config, async (pool) => {
        await pool.request().query('select databases'); // the pooled connection exists before the delay
        await sim.setFault({ name: 'delay', ms: 400 });
        const request = pool.request();
        const pending = request.query('select databases');
        setTimeout(() => request.cancel(), 100);
        await assert.rejects(pending, (err: Error & { code?: string }) => err.code === 'ECANCEL');
        assert.equal(sim.stats.attentions, 1);
        await sim.setFault(undefined);
        const r = await pool.request().query('select databases');
        assert.equal(r.recordset.length, 3);
      });
    }));

  it('a request timeout sends ATTENTION; the late reply is dropped', () =>
    withSim({}, async (sim) => {
      await withPool({ ...config(sim, { requestTimeout: 300 }), validateConnection: false } as sql.config, async (pool) => {
        await pool.request().query('select databases');
        await sim.setFault({ name: 'delay', ms: 800 });
        const started = Date.now();
        await assert.rejects(pool.request().query('select databases'), (err: Error & { code?: string }) => err.code === 'ETIMEOUT');
        assert.ok(Date.now() - started < 700, 'the acknowledgement came before the delayed reply would have');
        assert.equal(sim.stats.attentions, 1);
        await sim.setFault(undefined);
        assert.equal((await pool.request().query('select databases')).recordset.length, 3);
      });
    }));

  it('RESETCONNECTION: a pooled connection reused for a second request is reset and acknowledged', () =>
    withSim({}, async (sim, engine) => {
      await withPool(config(sim), async (pool) => {
        await pool.request().query('select databases');
        await pool.request().query('select databases');
      });
      // every call ran in the login's database, and nothing broke on the reset flag
      assert.ok(engine.calls.filter((c) => c.sql === 'select databases').every((c) => c.session.database === 'appdb'));
    }));

  it('close() ends open client connections at once', () =>
    withSim({}, async (sim) => {
      const pool = new sql.ConnectionPool(config(sim));
      await pool.connect();
      assert.ok(sim.openConnections() >= 1);
      const lost = new Promise<void>((resolve) => pool.on('error', () => resolve()));
      await sim.close();
      assert.equal(sim.openConnections(), 0);
      await assert.rejects(pool.request().query('select databases'));
      await pool.close();
      void lost;
    }));
});

it('varcharColumns: the named result columns come as varchar in code page 1252, the others as nvarchar', async () => {
  const scenario = scenarioFile('principal');
  const login = scenario.logins.find((l) => l.name === 'monitor')!;
  const sim = await startSqlSim({ scenario, varcharColumns: ['state_desc'] });
  try {
    await withPool({ ...config(sim), user: login.name, password: login.password, database: 'master' }, async (pool) => {
      const r = await pool.request().input('db', sql.NVarChar(128), 'appdb').query('SELECT name, state_desc FROM sys.databases WHERE name = @db');
      assert.deepEqual(r.recordset[0], { name: 'appdb', state_desc: 'ONLINE' });
      assert.equal(r.recordset.columns.state_desc.type, sql.VarChar);
      assert.equal(r.recordset.columns.name.type, sql.NVarChar);
    });
  } finally {
    await sim.close();
  }
});
