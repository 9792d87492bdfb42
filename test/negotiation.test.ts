// What a server negotiates in its login response, against the packed binaries (x64, and arm64
// under qemu-aarch64-static): a packet size outside MS-TDS's 512..32767 (2.2.3.1.3, 2.2.7.9) and
// a routing ENVCHANGE (2.2.7.9 type 20) fail the check with a protocol error that names what the
// server sent, before the driver acts on it: no packet is written at the bad size, no connection
// is made to where the server redirects. Accepted sizes run a whole check against a live sqlsim
// (the principal passes, the mirror fails on its role), so a refused row cannot hide a size the
// check could never use. Then the rule itself, value by value, and its guard.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { Connection, ConnectionError } from 'tedious';
import { BIN_X64, BIN_ARM64 } from './helpers/paths.ts';
import { startSqlSim } from './sqlsim/server.ts';
import type { Fault } from './sqlsim/faults.ts';
import type { Scenario } from './sqlsim/types.ts';
import { loadScenario, passwordOf, runCheck, type CheckRun } from './peers/sim.ts';
import { envChangeProblem, openConnection, describeError, PACKET_SIZE_MIN, PACKET_SIZE_MAX, ProbeFailure } from '../src/prober/connection.ts';
import { PhaseClock } from '../src/phases.ts';
import type { Settings } from '../src/settings.ts';

type Arch = 'x64' | 'arm64';
const TIMEOUT_S: Record<Arch, number> = { x64: 5, arm64: 30 };

before(() => assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first'));

async function check(arch: Arch, truth: 'principal' | 'mirror', opts: { fault?: Fault; edit?: (s: Scenario) => void } = {}): Promise<CheckRun> {
  const scenario = loadScenario(truth);
  opts.edit?.(scenario);
  const sim = await startSqlSim({ scenario, fault: opts.fault });
  try {
    return await runCheck({ host: sim.host, port: sim.port, password: passwordOf(scenario), timeoutS: TIMEOUT_S[arch], extra: ['-v'],
      ...(arch === 'arm64' ? { bin: BIN_ARM64, via: ['qemu-aarch64-static'] } : {}) });
  } finally {
    await sim.close();
  }
}

function refused(r: CheckRun, reason: RegExp): void {
  const said = `exit ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`;
  assert.equal(r.status, 1, said);
  assert.equal(r.json?.errorCode, 'PROTOCOL', said);
  assert.equal(r.json?.phase, 'login', said);
  assert.match(String(r.json?.reason), reason, said);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
}

// ---------------------------------------------------------------- packet size

// [the text the server sends, the number tedious makes of it]; case 366 of `make fuzz SEED=424242`
// turned "4096" into "4\x1096", which tedious reads as 4 (and then looped writing 4-byte packets)
const REFUSED_SIZES: Array<[string, string]> = [
  ['4', '4'], ['4\x1096', '4'], ['0', '0'], ['511', '511'], ['32768', '32768'], ['65535', '65535'],
  ['-4096', '-4096'], ['abc', 'NaN'], ['', 'NaN'],
];
const ACCEPTED_SIZES = [String(PACKET_SIZE_MIN), '4096', '8000', String(PACKET_SIZE_MAX)];

describe('packet size in the login response', { concurrency: 4 }, () => {
  for (const [text, number] of REFUSED_SIZES) {
    for (const arch of text === '4\x1096' ? (['x64', 'arm64'] as const) : (['x64'] as const)) {
      test(`${JSON.stringify(text)} → exit 1, PROTOCOL, "packet size ${number}" [${arch}]`, async () => {
        refused(await check(arch, 'principal', { fault: { name: 'packet-size', text } }),
          new RegExp(`the server negotiated packet size ${number} \\(MS-TDS allows 512\\.\\.32767\\)`));
      });
    }
  }
  for (const size of ACCEPTED_SIZES) {
    test(`${size} → accepted: the principal passes, the mirror fails on its role (a live check at that size)`, async () => {
      const p = await check('x64', 'principal', { fault: { name: 'packet-size', text: size } });
      assert.equal(p.status, 0, `${p.stderr}${p.stdout}`);
      const m = await check('x64', 'mirror', { fault: { name: 'packet-size', text: size } });
      assert.equal(m.status, 1, `${m.stderr}${m.stdout}`);
      assert.equal(m.json?.errorCode, 'ROLE', m.stdout);
    });
  }
});

// ---------------------------------------------------------------- redirection

/** A listener where the server redirects the login: it must see no connection. */
async function target(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => { n++; s.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => n };
}

describe('a routing ENVCHANGE in the login response', () => {
  let where: Awaited<ReturnType<typeof target>>;
  before(async () => { where = await target(); });
  after(() => where?.server.close());

  const ROUTES: Array<{ label: string; server: (port: number) => string; shown: RegExp; arches: Arch[] }> = [
    { label: 'to an address with a listener', server: () => '127.0.0.1', shown: /redirects the login to 127\.0\.0\.1 port \d+ /, arches: ['x64', 'arm64'] },
    { label: 'to a name with an instance', server: () => 'sql2.example.test\\INST', shown: /redirects the login to sql2\.example\.test\\INST port \d+ /, arches: ['x64'] },
    { label: 'to a name with control characters', server: () => 'evil\x1b[2J\nhost', shown: /redirects the login to evil\?\[2J\?host port \d+ /, arches: ['x64'] },
  ];
  for (const route of ROUTES) {
    for (const arch of route.arches) {
      for (const truth of ['principal', 'mirror'] as const) {
        test(`${route.label}, ${truth} → exit 1, PROTOCOL, naming where, no connection there [${arch}]`, async () => {
          const before = where.connections();
          const r = await check(arch, truth, { edit: (s) => { s.server.routing = { server: route.server(where.port), port: where.port }; } });
          refused(r, route.shown);
          assert.match(String(r.json?.reason), new RegExp(`port ${where.port} \\(routing ENVCHANGE\\); redirection is never followed`));
          assert.equal(where.connections(), before, 'a connection reached the routing target');
        });
      }
    }
  }
});

// ---------------------------------------------------------------- a server's words

test('a server\'s longest error text cannot keep the check busy (the reason\'s TLS rewrite is linear)', () => {
  // an ERROR token's message is a US_VARCHAR: up to 65535 characters, here hex letters, which the
  // rewrite of OpenSSL's "…:error:…:SSL routines:…" once tried at each one (23 s for this one)
  for (const text of ['F'.repeat(65_535), 'A0:error:'.repeat(7000), `${'F'.repeat(30_000)}:error:${'F'.repeat(30_000)}`]) {
    const start = performance.now();
    const e = describeError(new ConnectionError(text, 'ELOGIN'));
    const ms = performance.now() - start;
    assert.equal(e.code, 'ELOGIN');
    assert.ok(ms < 200, `${ms.toFixed(0)} ms for ${text.length} characters`);
  }
  assert.equal(describeError(new ConnectionError('x 40ADCA5A6C7F0000:error:0A000410:SSL routines:ssl3_read_bytes:ssl/tls alert handshake failure:../deps/openssl y', 'ESOCKET')).message,
    'x TLS: ssl/tls alert handshake failure y');
});

// ---------------------------------------------------------------- the rule, value by value

describe('envChangeProblem: each ENVCHANGE tedious acts on', () => {
  const env = (type: string, newValue: unknown) => ({ name: 'ENVCHANGE', type, newValue });
  const ROWS: Array<[string, object, RegExp | undefined]> = [
    ['packet size 512', env('PACKET_SIZE', 512), undefined],
    ['packet size 32767', env('PACKET_SIZE', 32767), undefined],
    ['packet size 511', env('PACKET_SIZE', 511), /packet size 511 /],
    ['packet size 32768', env('PACKET_SIZE', 32768), /packet size 32768 /],
    ['packet size 4096.5', env('PACKET_SIZE', 4096.5), /packet size 4096\.5 /],
    ['packet size NaN', env('PACKET_SIZE', NaN), /packet size NaN /],
    ['packet size as text', env('PACKET_SIZE', '4096'), /packet size 4096 /],
    ['routing anywhere', env('ROUTING_CHANGE', { protocol: 0, port: 1433, server: 'db2' }), /redirects the login to db2 port 1433 /],
    ['routing without a value', env('ROUTING_CHANGE', undefined), /redirects the login to another server/],
    ['begin transaction, 8-byte descriptor', env('BEGIN_TXN', Buffer.alloc(8)), undefined],
    ['begin transaction, 4-byte descriptor', env('BEGIN_TXN', Buffer.alloc(4)), /4-byte descriptor/],
    ['begin transaction, no descriptor', env('BEGIN_TXN', undefined), /missing descriptor/],
    ['database (an event only)', env('DATABASE', 'x'.repeat(1000)), undefined],
    ['language (an event only)', env('LANGUAGE', ''), undefined],
    ['charset (an event only)', env('CHARSET', 'iso_1'), undefined],
    ['collation (echoed in later parameters)', env('SQL_COLLATION', undefined), undefined],
    ['mirroring partner (an event only)', env('DATABASE_MIRRORING_PARTNER', 'SQLB'), undefined],
    ['a token other than ENVCHANGE', { name: 'DONE', type: 'PACKET_SIZE', newValue: 4 }, undefined],
  ];
  for (const [label, token, problem] of ROWS) {
    test(`${label} → ${problem ? 'refused' : 'accepted'}`, () => {
      const p = envChangeProblem(token as Parameters<typeof envChangeProblem>[0]);
      if (problem) assert.match(String(p), problem);
      else assert.equal(p, undefined);
    });
  }
});

test('a tedious without the step the check guards (createTokenStreamParser) is refused before any connection', async () => {
  const proto = Connection.prototype as unknown as Record<string, unknown>;
  const saved = proto.createTokenStreamParser;
  assert.equal(typeof saved, 'function', 'this tedious has the step: the guard is in place');
  let connections = 0;
  const server = createServer((s) => { connections++; s.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  delete proto.createTokenStreamParser;
  try {
    const settings = {
      host: '127.0.0.1', port: (server.address() as AddressInfo).port, user: 'monitor', password: 'x', encrypt: 'off',
      trustServerCertificate: false, applicationName: 'test', databases: ['appdb'], timeoutMs: 2000,
    } as unknown as Settings;
    const err = await openConnection({ settings, phases: new PhaseClock(), remainingMs: () => 2000 }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProbeFailure, `refused: ${String(err)}`);
    assert.equal(err.error.code, 'PROTOCOL');
    assert.match(err.error.message, /cannot check what the server negotiates; refusing to run/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(connections, 0);
  } finally {
    proto.createTokenStreamParser = saved;
    server.close();
  }
});
