// One mssql client run for faults.test.ts, in a process of its own: some broken replies make
// tedious throw from an event handler (an uncaught exception), which a test process must not
// share. Reads a JSON config line on stdin (the password travels there, not in argv); when
// `when` is 'query' it connects, runs the query once, prints "ready" and waits for a "go" line.
// Prints one JSON outcome line: {ok, rows} or {ok:false, code, message, number}, with the ms
// from connecting (or, for 'query', from the faulty request) to the outcome.
import { createInterface } from 'node:readline';
import sql from 'mssql';

interface Config {
  port: number;
  user: string;
  password: string;
  encrypt: boolean | 'strict';
  when: 'connect' | 'query';
  timeoutMs: number;
  query: string;
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async (): Promise<string> => (await lines.next()).value ?? '';

let started = Date.now();

function finish(outcome: object): never {
  process.stdout.write(JSON.stringify({ ...outcome, ms: Date.now() - started }) + '\n');
  process.exit(0);
}

process.on('uncaughtException', (err: Error & { code?: string }) => finish({ ok: false, code: 'UNCAUGHT', message: err.message }));

const config = JSON.parse(await next()) as Config;
started = Date.now();
const pool = new sql.ConnectionPool({
  server: '127.0.0.1',
  port: config.port,
  user: config.user,
  password: config.password,
  database: 'master',
  connectionTimeout: config.timeoutMs,
  requestTimeout: config.timeoutMs,
  pool: { max: 1, min: 0 },
  // no validation query on acquire: the fault must meet the request itself
  validateConnection: false,
  options: { encrypt: config.encrypt as boolean, trustServerCertificate: true, cancelTimeout: config.timeoutMs },
} as sql.config);
pool.on('error', () => {});
try {
  await pool.connect();
  if (config.when === 'query') {
    await pool.request().input('db', sql.NVarChar(128), 'master').query(config.query);
    process.stdout.write('ready\n');
    await next();
  }
  if (config.when === 'query') started = Date.now();
  const r = await pool.request().input('db', sql.NVarChar(128), 'appdb').query(config.query);
  finish({ ok: true, rows: r.recordset.length });
} catch (err) {
  const e = err as Error & { code?: string; number?: number };
  finish({ ok: false, code: String(e.code), message: e.message, number: e.number });
}
