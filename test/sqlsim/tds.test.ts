// The protocol modules one by one, against tedious's own encoders and decoders where it has them
// (an independent reading of MS-TDS): packet framing, PRELOGIN, LOGIN7, the encryption table,
// TLS flight detection, value encodings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PacketReader, PacketWriter, PacketType, ProtocolError, Status } from './tds/packets.ts';
import { Encrypt, buildPrelogin, negotiateEncryption, parsePrelogin, type EncryptionMode } from './tds/prelogin.ts';
import { Feature, deobfuscatePassword, obfuscatePassword, parseLogin7 } from './tds/login7.ts';
import { FlightCollector, RecordType } from './tds/tls.ts';
import { Reader, datetime, encodeValue, guid, guidToString, readTypeInfo, readValue } from './tds/types.ts';
import { parseRpc, parseSqlBatch } from './tds/requests.ts';
import { buildChallenge, md4, parseAuthenticate, verifyNtlmv2 } from './tds/ntlm.ts';
import { sspi } from './tds/tokens.ts';

// tedious's CommonJS classes (module.exports = the class), typed by their declaration files
const require = createRequire(import.meta.url);
const Login7Payload = require('tedious/lib/login7-payload.js') as typeof import('tedious/lib/login7-payload.js').default;
const PreloginPayload = require('tedious/lib/prelogin-payload.js') as typeof import('tedious/lib/prelogin-payload.js').default;
const NTLMResponsePayload = require('tedious/lib/ntlm-payload.js') as typeof import('tedious/lib/ntlm-payload.js').default;
const sspiParser = require('tedious/lib/token/sspi-token-parser.js') as (buf: Buffer, offset: number, options: object) => { value: { ntlmpacket: { nonce: Buffer; target: Buffer; domain: string } } };

function packet(type: number, status: number, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = type;
  head[1] = status;
  head.writeUInt16BE(data.length + 8, 2);
  return Buffer.concat([head, data]);
}

describe('packets', () => {
  it('reassembles a message split anywhere, and several messages in one chunk', () => {
    const one = packet(PacketType.SQL_BATCH, 0, Buffer.from('hello '));
    const two = packet(PacketType.SQL_BATCH, Status.EOM | Status.RESET_CONNECTION, Buffer.from('world'));
    const three = packet(PacketType.ATTENTION, Status.EOM, Buffer.alloc(0));
    const stream = Buffer.concat([one, two, three]);
    for (let cut = 1; cut < stream.length; cut++) {
      const reader = new PacketReader();
      const messages = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      assert.deepEqual(messages.map((m) => [m.type, m.payload.toString(), m.packets]), [[1, 'hello world', 2], [6, '', 1]]);
      assert.equal(messages[0].status & Status.RESET_CONNECTION, 0, 'status comes from the first packet');
    }
  });

  it('drops a message the client marked IGNORE; rejects impossible headers', () => {
    const reader = new PacketReader();
    assert.deepEqual(reader.push(Buffer.concat([packet(1, 0, Buffer.from('x')), packet(1, Status.EOM | Status.IGNORE, Buffer.alloc(0))])), []);
    assert.throws(() => new PacketReader().push(Buffer.from([1, 1, 0, 4, 0, 0, 1, 0])), ProtocolError);
    assert.throws(() => new PacketReader().push(Buffer.concat([packet(1, 0, Buffer.from('a')), packet(3, Status.EOM, Buffer.from('b'))])), ProtocolError);
  });

  it('splits a reply into packets of the negotiated size, EOM on the last, ids counting', () => {
    const writer = new PacketWriter(51, 512);
    const bytes = writer.encode(PacketType.TABULAR_RESULT, Buffer.alloc(1200, 7));
    const reader = new PacketReader();
    const [message] = reader.push(bytes);
    assert.equal(message.packets, 3);
    assert.deepEqual([bytes.readUInt16BE(2), bytes.readUInt16BE(512 + 2)], [512, 512]);
    assert.deepEqual([bytes[1], bytes[512 + 1], bytes[1024 + 1]], [0, 0, Status.EOM]);
    assert.deepEqual([bytes[6], bytes[512 + 6], bytes[1024 + 6]], [1, 2, 3]);
    assert.equal(bytes.readUInt16BE(4), 51, 'SPID');
    assert.deepEqual(message.payload, Buffer.alloc(1200, 7));
  });
});

describe('PRELOGIN', () => {
  it("reads tedious's PRELOGIN and tedious reads ours", () => {
    const theirs = new PreloginPayload({ encrypt: true, version: { major: 19, minor: 2, build: 2, subbuild: 0 } });
    const parsed = parsePrelogin(theirs.data);
    assert.deepEqual(parsed.version, { major: 19, minor: 2, build: 2, subbuild: 0 });
    assert.equal(parsed.encryption, Encrypt.ON);
    assert.equal(parsed.mars, 0);
    assert.equal(parsed.fedAuthRequired, 1);

    const ours = new PreloginPayload(buildPrelogin({ version: [16, 0, 4165, 4], encryption: Encrypt.REQ }));
    assert.deepEqual(ours.version, { major: 16, minor: 0, build: 4165, subbuild: 4 });
    assert.equal(ours.encryptionString, 'REQ');
    assert.equal(ours.instance, 0);
    assert.equal(ours.marsString, 'OFF');
  });

  it('refuses PRELOGIN without VERSION or terminator', () => {
    assert.throws(() => parsePrelogin(Buffer.from([0x01, 0x00, 0x06, 0x00, 0x01, 0xff, 0x00])), /VERSION/);
    assert.throws(() => parsePrelogin(Buffer.from([0x00, 0x00, 0x05, 0x00, 0x06])), ProtocolError);
  });

  it('negotiates encryption as MS-TDS 2.2.6.5 and SQL Server do', () => {
    const { OFF, ON, NOT_SUP, REQ } = Encrypt;
    // client sends:              OFF      ON     NOT_SUP  REQ
    const table: Record<EncryptionMode, number[]> = {
      none: [NOT_SUP, NOT_SUP, NOT_SUP, NOT_SUP],
      off: [OFF, ON, NOT_SUP, ON],
      on: [ON, ON, REQ, ON],
      required: [REQ, REQ, REQ, REQ],
      strict: [NOT_SUP, NOT_SUP, NOT_SUP, NOT_SUP],
    };
    for (const [mode, answers] of Object.entries(table)) {
      assert.deepEqual([OFF, ON, NOT_SUP, REQ].map((c) => negotiateEncryption(mode as EncryptionMode, c)), answers, mode);
    }
  });
});

describe('LOGIN7', () => {
  it("parses tedious's LOGIN7 (TDS 7.4, FeatureExt) and undoes the password obfuscation", () => {
    const payload = new Login7Payload({ tdsVersion: 0x74000004, packetSize: 8192, clientProgVer: 0, clientPid: 4242, connectionId: 0, clientTimeZone: 0, clientLcid: 0x409 });
    Object.assign(payload, {
      hostname: 'lb1', userName: 'monitor', password: 'Pä$$w0rd-Ω', appName: 'mssql-role-check', serverName: '10.0.0.11',
      language: 'us_english', database: 'appdb', libraryName: 'Tedious', initDbFatal: true,
    });
    const login = parseLogin7(payload.toBuffer());
    assert.equal(login.tdsVersion, 0x74000004);
    assert.equal(login.packetSize, 8192);
    assert.equal(login.clientPid, 4242);
    assert.deepEqual(
      [login.hostName, login.userName, login.password, login.appName, login.serverName, login.language, login.database, login.libraryName],
      ['lb1', 'monitor', 'Pä$$w0rd-Ω', 'mssql-role-check', '10.0.0.11', 'us_english', 'appdb', 'Tedious'],
    );
    assert.equal(login.integratedSecurity, false);
    assert.ok(login.features.has(Feature.UTF8_SUPPORT), 'tedious asks for UTF-8 support');
  });

  it('sees an SSPI (integrated security) login', () => {
    const payload = new Login7Payload({ tdsVersion: 0x74000004, packetSize: 4096, clientProgVer: 0, clientPid: 1, connectionId: 0, clientTimeZone: 0, clientLcid: 0x409 });
    Object.assign(payload, { hostname: 'lb1', sspi: Buffer.from('NTLMSSP\0\x01\0\0\0', 'latin1') });
    const login = parseLogin7(payload.toBuffer());
    assert.equal(login.integratedSecurity, true);
    assert.equal(login.sspi.subarray(0, 7).toString('latin1'), 'NTLMSSP');
  });

  it('obfuscation round-trips and matches the documented transform', () => {
    // MS-TDS 2.2.6.4: swap the nibbles of every byte, then XOR with 0xA5. 'a' = 0x61 → 0x16 ^ 0xA5 = 0xB3.
    assert.deepEqual([...obfuscatePassword('a')], [0xb3, 0xa5]);
    assert.equal(deobfuscatePassword(obfuscatePassword('s3cr3t €')), 's3cr3t €');
  });

  it('refuses a truncated LOGIN7', () => {
    assert.throws(() => parseLogin7(Buffer.alloc(50)), ProtocolError);
    const b = Buffer.alloc(94);
    b.writeUInt32LE(94, 0);
    b.writeUInt16LE(90, 40); // user name at 90, 10 characters: past the end
    b.writeUInt16LE(10, 42);
    assert.throws(() => parseLogin7(b), ProtocolError);
  });
});

describe('TLS flights inside PRELOGIN', () => {
  const record = (type: number, body: Buffer) => {
    const head = Buffer.from([type, 3, 3, 0, 0]);
    head.writeUInt16BE(body.length, 3);
    return Buffer.concat([head, body]);
  };
  const handshake = (type: number, length: number) => {
    const b = Buffer.alloc(4 + length);
    b[0] = type;
    b.writeUIntBE(length, 1, 3);
    return b;
  };

  it('ends the first flight at ServerHelloDone, even when messages span records and chunks', () => {
    const f = new FlightCollector();
    const body = Buffer.concat([handshake(2, 70), handshake(11, 900), handshake(14, 0)]);
    const records = Buffer.concat([record(RecordType.HANDSHAKE, body.subarray(0, 500)), record(RecordType.HANDSHAKE, body.subarray(500))]);
    assert.deepEqual(f.push(records.subarray(0, 300)), []);
    const flights = f.push(records.subarray(300));
    assert.deepEqual(flights, [records]);
    assert.equal(f.finished, false);
  });

  it('ends the second flight at the record after ChangeCipherSpec, and marks the handshake finished', () => {
    const f = new FlightCollector();
    const ccs = record(RecordType.CHANGE_CIPHER_SPEC, Buffer.from([1]));
    const finished = record(RecordType.HANDSHAKE, Buffer.alloc(40, 9));
    assert.deepEqual(f.push(ccs), []);
    assert.deepEqual(f.push(finished), [Buffer.concat([ccs, finished])]);
    assert.equal(f.finished, true);
  });

  it('an alert ends a flight', () => {
    const alert = record(RecordType.ALERT, Buffer.from([2, 40]));
    assert.deepEqual(new FlightCollector().push(alert), [alert]);
  });
});

describe('values', () => {
  it('datetime: days since 1900 and 1/300 s ticks, rounded like SQL Server', () => {
    assert.deepEqual([...datetime(new Date(Date.UTC(1900, 0, 1)))], [0, 0, 0, 0, 0, 0, 0, 0]);
    const b = datetime(new Date(Date.UTC(2024, 1, 29, 0, 0, 1, 0)));
    assert.equal(b.readInt32LE(0), 45349);
    assert.equal(b.readUInt32LE(4), 300);
    const late = datetime(new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)));
    assert.deepEqual([late.readInt32LE(0), late.readUInt32LE(4)], [45350, 0], '23:59:59.999 rounds to the next day');
    assert.equal(datetime(new Date(Date.UTC(1899, 11, 31))).readInt32LE(0), -1);
  });

  it('uniqueidentifier: mixed-endian bytes, both ways', () => {
    const text = '6F9619FF-8B86-D011-B42D-00C04FC964FF';
    assert.equal(guid(text).toString('hex'), 'ff19966f868b11d0b42d00c04fc964ff');
    assert.equal(guidToString(guid(text)), text);
    assert.throws(() => guid('not-a-guid'));
  });

  it('numeric keeps every digit of a 25-digit LSN given as a string or bigint', () => {
    const column = { name: 'lsn', type: 'numeric' as const, precision: 25, scale: 0, nullable: true };
    const fromString = encodeValue(column, '12345678901234567890123');
    const fromBigint = encodeValue(column, 12345678901234567890123n);
    assert.deepEqual(fromString, fromBigint);
    assert.equal(fromString[0], 13);
    assert.equal(fromString[1], 1);
    let n = 0n;
    for (let i = fromString.length - 1; i >= 2; i--) n = (n << 8n) + BigInt(fromString[i]);
    assert.equal(n, 12345678901234567890123n);
    assert.deepEqual([...encodeValue(column, null)], [0]);
  });

  it('NOT NULL columns use the fixed-length types and refuse NULL', () => {
    assert.deepEqual([...encodeValue({ name: 'i', type: 'int', nullable: false }, 7)], [7, 0, 0, 0]);
    assert.deepEqual([...encodeValue({ name: 'i', type: 'int', nullable: true }, 7)], [4, 7, 0, 0, 0]);
    assert.throws(() => encodeValue({ name: 'i', type: 'int', nullable: false }, null), /NULL in NOT NULL/);
  });

  it('reads parameter types: a PLP nvarchar(max) in chunks, a NULL, a decimal', () => {
    const text = 'x'.repeat(10);
    const data = Buffer.from(text, 'utf16le');
    const plp = Buffer.concat([
      Buffer.from([0xe7, 0xff, 0xff, 0x09, 0x04, 0xd0, 0x00, 0x34]), // NVARCHAR(max) + collation
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // unknown total length
      Buffer.from([8, 0, 0, 0]), data.subarray(0, 8), Buffer.from([12, 0, 0, 0]), data.subarray(8), Buffer.from([0, 0, 0, 0]),
    ]);
    const r = new Reader(plp);
    assert.equal(readValue(r, readTypeInfo(r)), text);
    assert.equal(r.remaining, 0);
    const nul = new Reader(Buffer.from([0x26, 4, 0]));
    assert.equal(readValue(nul, readTypeInfo(nul)), null);
    const dec = new Reader(Buffer.from([0x6a, 5, 10, 2, 5, 0, 0x39, 0x30, 0, 0])); // -123.45
    assert.equal(readValue(dec, readTypeInfo(dec)), -123.45);
  });
});

describe('requests', () => {
  it('SQL_BATCH with and without ALL_HEADERS (TDS 7.1 clients send none)', () => {
    const text = Buffer.from('SELECT 1', 'utf16le');
    const headers = Buffer.alloc(22);
    headers.writeUInt32LE(22, 0);
    headers.writeUInt32LE(18, 4);
    headers.writeUInt16LE(2, 8);
    headers.writeUInt32LE(1, 18);
    assert.equal(parseSqlBatch(Buffer.concat([headers, text])).text, 'SELECT 1');
    assert.equal(parseSqlBatch(Buffer.concat([headers, text])).headers.outstandingRequests, 1);
    assert.equal(parseSqlBatch(text).text, 'SELECT 1');
  });

  it('RPC by name and by ProcID, with named parameters', () => {
    const name = Buffer.from('sp_executesql', 'utf16le');
    const param = (n: string, value: number) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'utf16le'), Buffer.from([0, 0x26, 4, 4]), Buffer.from(Int32Array.of(value).buffer)]);
    const byName = Buffer.concat([Buffer.from([13, 0]), name, Buffer.from([0, 0]), param('@a', 1), param('@b', -2)]);
    const { calls } = parseRpc(byName);
    assert.deepEqual(calls.map((c) => [c.name, c.procId, c.params.map((p) => [p.name, p.value])]), [['sp_executesql', null, [['@a', 1], ['@b', -2]]]]);
    const byId = Buffer.concat([Buffer.from([0xff, 0xff, 10, 0, 0, 0]), param('', 5), Buffer.from([0x80]), Buffer.from([0xff, 0xff, 15, 0, 0, 0])]);
    assert.deepEqual(parseRpc(byId).calls.map((c) => [c.procId, c.params.length]), [[10, 1], [15, 0]]);
  });
});

describe('NTLM', () => {
  it('MD4 gives the RFC 1320 test vectors', () => {
    assert.equal(md4(Buffer.from('')).toString('hex'), '31d6cfe0d16ae931b73c59d7e0c089c0');
    assert.equal(md4(Buffer.from('abc')).toString('hex'), 'a448017aaf21d8525fc10ae87aa6729d');
    assert.equal(md4(Buffer.from('1234567890'.repeat(8))).toString('hex'), 'e33b4ddc9c38f2199c3e7b164fcc0536');
  });

  it("tedious reads our CHALLENGE, and its AUTHENTICATE passes the NTLMv2 check only with the right password", () => {
    const challenge = buildChallenge('CORP', 'SQLA');
    const token = sspi(challenge.message);
    const { ntlmpacket } = sspiParser(token, 1, {}).value;
    assert.deepEqual(ntlmpacket.nonce, challenge.serverChallenge);
    assert.equal(ntlmpacket.domain, 'CORP');
    const answer = (password: string) => parseAuthenticate(new NTLMResponsePayload({ domain: 'CORP', userName: 'winprobe', password, ntlmpacket } as never).data)!;
    const auth = answer('s3cret');
    assert.deepEqual([auth.domain, auth.user], ['CORP', 'winprobe']);
    assert.equal(verifyNtlmv2(auth, challenge.serverChallenge, 's3cret'), true);
    assert.equal(verifyNtlmv2(auth, challenge.serverChallenge, 's3cret!'), false);
    assert.equal(verifyNtlmv2(auth, Buffer.alloc(8), 's3cret'), false, 'a replay against another challenge fails');
  });
});
