// With default options no LOGIN7 is ever sent in the clear. A TCP relay between the packed binary
// and sqlsim records what the client puts on the wire: the ENCRYPTION value of its PRELOGIN, and
// each TDS packet type (MS-TDS 2.2.3.1.1) or TLS record content type (RFC 5246 6.2.1) in order.
// Inside PRELOGIN-negotiated TLS the handshake travels in PRELOGIN packets (MS-TDS 3.3.5.1,
// 0x12) and everything after it, LOGIN7 included, as bare TLS records; with TDS 8.0 (strict) the
// first byte is TLS. A cleartext LOGIN7 is a TDS packet of type 0x10, and its password is only
// scrambled (MS-TDS 2.2.6.4: nibbles swapped, XOR 0xA5): the relay looks for both. The relay can
// also play the man in the middle and rewrite the server's PRELOGIN answer to "cannot encrypt".
// The --encrypt off row is the control: there the relay must see the LOGIN7 and the password.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN_X64, BIN_ARM64 } from './helpers/paths.ts';
import { startSqlSim, type SqlSim, type SqlSimOptions } from './sqlsim/server.ts';
import { makeTestCertificates, type TestCertificates } from './sqlsim/certs.ts';
import { Encrypt, Option, parsePrelogin } from './sqlsim/tds/prelogin.ts';
import { obfuscatePassword } from './sqlsim/tds/login7.ts';
import { DATABASE, LOGIN, loadScenario, passwordOf } from './peers/sim.ts';
import { run } from './peers/harness.ts';

const QEMU = 'qemu-aarch64-static';
const TIMEOUT_S = 30; // qemu starts slowly
const PRELOGIN = 0x12;
const LOGIN7 = 0x10;

interface Capture {
  /** the ENCRYPTION byte of the client's PRELOGIN, when it sent one */
  clientEncryption?: number;
  /** 'tds:0x12', 'tds:0x12+tls' (a TLS handshake inside PRELOGIN), 'tls:22', 'tls:23', … in order */
  units: string[];
  /** every byte the client sent */
  bytes: Buffer;
}

interface Relay {
  port: number;
  captures: Capture[];
  close(): Promise<void>;
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
const isTlsRecord = (b: Buffer) => b.length >= 2 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] === 0x03;

/** Splits the client's stream into TDS packets until it turns into TLS records, and records each. */
function recordClient(capture: Capture) {
  let pending = Buffer.alloc(0);
  let tls = false;
  return (chunk: Buffer) => {
    capture.bytes = Buffer.concat([capture.bytes, chunk]);
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (!tls && pending.length >= 2 && isTlsRecord(pending)) tls = true;
      if (pending.length < 5) return;
      const length = tls ? 5 + pending.readUInt16BE(3) : pending.readUInt16BE(2);
      if (!tls && length < 8) throw new Error(`not TDS: ${pending.subarray(0, 8).toString('hex')}`);
      if (pending.length < length) return;
      const unit = pending.subarray(0, length);
      pending = pending.subarray(length);
      if (tls) {
        capture.units.push(`tls:${unit[0]}`);
        continue;
      }
      const payload = unit.subarray(8);
      if (unit[0] === PRELOGIN && isTlsRecord(payload)) {
        capture.units.push('tds:0x12+tls');
      } else {
        capture.units.push(`tds:${hex(unit[0])}`);
        if (unit[0] === PRELOGIN && capture.clientEncryption === undefined) capture.clientEncryption = parsePrelogin(payload).encryption;
      }
    }
  };
}

/** The server's first packet (its PRELOGIN answer) with the ENCRYPTION option set to `value`. */
function rewriteEncryption(packet: Buffer, value: number): Buffer {
  const out = Buffer.from(packet);
  const body = out.subarray(8);
  for (let at = 0; body[at] !== Option.TERMINATOR; at += 5) {
    if (body[at] === Option.ENCRYPTION) body[body.readUInt16BE(at + 1)] = value;
  }
  return out;
}

/** A relay to `target`; with `forge`, it rewrites the server's PRELOGIN answer (a man in the middle). */
function startRelay(target: SqlSim, forge?: number): Promise<Relay> {
  const captures: Capture[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const capture: Capture = { units: [], bytes: Buffer.alloc(0) };
    captures.push(capture);
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    const record = recordClient(capture);
    client.on('data', (b: Buffer) => { record(b); upstream.write(b); });
    let first = forge === undefined ? null : Buffer.alloc(0);
    upstream.on('data', (b: Buffer) => {
      if (first === null) return void client.write(b);
      first = Buffer.concat([first, b]);
      if (first.length < 8 || first.length < first.readUInt16BE(2)) return;
      const length = first.readUInt16BE(2);
      client.write(Buffer.concat([rewriteEncryption(first.subarray(0, length), forge!), first.subarray(length)]));
      first = null;
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as { port: number }).port,
    captures,
    close: () => new Promise<void>((done) => { for (const s of sockets) s.destroy(); server.close(() => done()); }),
  })));
}

let dir: string;
let certs: TestCertificates;
let password: string;
const sims: Record<'tls' | 'plain', SqlSim> = {} as never;

before(async () => {
  assert.ok(existsSync(BIN_X64) && existsSync(BIN_ARM64), 'binaries missing; run make first');
  dir = mkdtempSync(join(tmpdir(), 'login-capture-test-'));
  certs = makeTestCertificates(join(dir, 'certs'));
  password = passwordOf(loadScenario('principal'));
  const opts: Record<'tls' | 'plain', SqlSimOptions> = {
    // SQL Server's default: a certificate, encryption offered and not forced
    tls: { scenario: loadScenario('principal'), tls: { cert: certs.cert, key: certs.key }, encryption: 'off' },
    // a server without a certificate: its PRELOGIN answer says ENCRYPT_NOT_SUP
    plain: { scenario: loadScenario('principal'), encryption: 'none' },
  };
  for (const [name, o] of Object.entries(opts)) sims[name as 'tls' | 'plain'] = await startSqlSim(o);
});
after(async () => {
  await Promise.all(Object.values(sims).map((s) => s.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Row {
  name: string;
  sim: 'tls' | 'plain';
  /** rewrite the server's PRELOGIN ENCRYPTION answer to this */
  forge?: number;
  args?: string[];
  exit: 0 | 1;
  errorCode?: string;
  /** what the client's PRELOGIN asked for (undefined: it sent none, TLS came first) */
  clientEncryption: number | undefined;
  /** the LOGIN7 (and the scrambled password) crossed the wire in the clear: only for --encrypt off */
  cleartextLogin?: boolean;
}

const ROWS: Row[] = [
  { name: 'default options: PRELOGIN asks ENCRYPT_ON, LOGIN7 only inside TLS', sim: 'tls', exit: 0, clientEncryption: Encrypt.ON },
  { name: 'default options, a server without a certificate (ENCRYPT_NOT_SUP): fails before LOGIN7', sim: 'plain', exit: 1, errorCode: 'EENCRYPT', clientEncryption: Encrypt.ON },
  { name: 'default options, the answer forged to ENCRYPT_NOT_SUP: fails before LOGIN7', sim: 'tls', forge: Encrypt.NOT_SUP, exit: 1, errorCode: 'EENCRYPT', clientEncryption: Encrypt.ON },
  { name: 'default options, the answer forged to ENCRYPT_OFF: fails before LOGIN7', sim: 'tls', forge: Encrypt.OFF, exit: 1, errorCode: 'EENCRYPT', clientEncryption: Encrypt.ON },
  { name: '--trust-server-certificate, the answer forged to ENCRYPT_NOT_SUP: fails before LOGIN7', sim: 'tls', forge: Encrypt.NOT_SUP, args: ['--trust-server-certificate'], exit: 1, errorCode: 'EENCRYPT', clientEncryption: Encrypt.ON },
  { name: '--encrypt strict: TLS from the first byte, no TDS packet in the clear', sim: 'tls', args: ['--encrypt', 'strict'], exit: 0, clientEncryption: undefined },
  { name: 'control, --encrypt off: the relay sees LOGIN7 and the scrambled password in the clear', sim: 'plain', args: ['--encrypt', 'off'], exit: 0, clientEncryption: Encrypt.NOT_SUP, cleartextLogin: true },
];

for (const row of ROWS) {
  test(row.name, async () => {
    const sim = sims[row.sim];
    const relay = await startRelay(sim, row.forge);
    try {
      const logins = sim.stats.logins + sim.stats.loginFailures;
      const args = ['--host', '127.0.0.1', '--port', String(relay.port), '--database', DATABASE, '--user', LOGIN,
        '--timeout', String(TIMEOUT_S), '--json', ...(row.args ?? [])];
      // The server certificate's CA is in the system trust store of this run (OpenSSL's SSL_CERT_FILE).
      const env = { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: password, SSL_CERT_FILE: certs.caFile };
      const limitMs = TIMEOUT_S * 1000 + 15_000;
      const [x64, arm64] = await Promise.all([run(BIN_X64, args, { env, limitMs }), run(QEMU, [BIN_ARM64, ...args], { env, limitMs })]);
      assert.equal(relay.captures.length, 2, 'one connection per binary');
      for (const [name, r] of [['x64', x64], ['arm64', arm64]] as const) {
        assert.equal(r.status, row.exit, `${name}: ${r.stdout}${r.stderr}`);
        const json = JSON.parse(r.stdout) as { errorCode: string | null; reason: string };
        if (row.errorCode) assert.equal(json.errorCode, row.errorCode, `${name}: ${json.reason}`);
        if (row.errorCode === 'EENCRYPT') assert.match(json.reason, /refusing to log in without TLS/);
      }
      for (const c of relay.captures) {
        const shown = c.units.join(' ');
        assert.equal(c.clientEncryption, row.clientEncryption, `the client's PRELOGIN ENCRYPTION: ${shown}`);
        const scrambled = obfuscatePassword(password);
        const plain = Buffer.from(password, 'utf16le');
        if (row.cleartextLogin) {
          assert.ok(c.units.includes(`tds:${hex(LOGIN7)}`), `the control must show a LOGIN7: ${shown}`);
          assert.ok(c.bytes.includes(scrambled), 'the control must show the scrambled password');
          continue;
        }
        assert.ok(!c.units.includes(`tds:${hex(LOGIN7)}`), `a LOGIN7 in the clear: ${shown}`);
        assert.ok(!c.bytes.includes(scrambled) && !c.bytes.includes(plain), 'the password crossed the wire readable');
        // in the clear only PRELOGIN packets (with the TLS handshake inside them), then TLS records
        assert.ok(c.units.every((u) => u === 'tds:0x12' || u === 'tds:0x12+tls' || u.startsWith('tls:')), shown);
        if (row.exit === 0) {
          assert.ok(c.units.includes('tls:23'), `the login travels as TLS application data: ${shown}`);
        } else {
          assert.deepEqual(c.units, ['tds:0x12'], 'the client stops after its PRELOGIN');
        }
        if (row.clientEncryption === undefined) assert.ok(c.units[0] === 'tls:22', `TDS 8.0 begins with a ClientHello: ${shown}`);
      }
      const reached = sim.stats.logins + sim.stats.loginFailures - logins;
      assert.equal(reached, row.exit === 0 ? 2 : 0, 'LOGIN7s that reached the server');
    } finally {
      await relay.close();
    }
  });
}
