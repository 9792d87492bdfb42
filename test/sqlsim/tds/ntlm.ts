// NTLM (MS-NLMP) as a SQL Server answers it inside TDS: the client's NEGOTIATE rides in LOGIN7's
// SSPI field, the server replies with a CHALLENGE in an SSPI token, the client sends AUTHENTICATE
// in an SSPI message (packet type 0x11). The server here checks the NTLMv2 proof against the
// scenario's password for DOMAIN\user — no domain controller involved.

import { createHmac, randomBytes } from 'node:crypto';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export function ntlmMessageType(buf: Buffer): number | null {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(SIGNATURE)) return null;
  return buf.readUInt32LE(8);
}

export interface Challenge {
  serverChallenge: Buffer;
  message: Buffer;
}

/** CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2): target name, then AV pairs naming the domain and the server. */
export function buildChallenge(domain: string, computer: string, serverChallenge: Buffer = randomBytes(8)): Challenge {
  const targetName = Buffer.from(domain, 'utf16le');
  const av = (id: number, value: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    return Buffer.concat([head, value]);
  };
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
  const targetInfo = Buffer.concat([
    av(2, Buffer.from(domain, 'utf16le')), // MsvAvNbDomainName
    av(1, Buffer.from(computer, 'utf16le')), // MsvAvNbComputerName
    av(4, Buffer.from(domain.toLowerCase(), 'utf16le')), // MsvAvDnsDomainName
    av(3, Buffer.from(computer.toLowerCase(), 'utf16le')), // MsvAvDnsComputerName
    av(7, timestamp), // MsvAvTimestamp
    av(0, Buffer.alloc(0)), // MsvAvEOL
  ]);
  const head = Buffer.alloc(56);
  SIGNATURE.copy(head, 0);
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(targetName.length, 12);
  head.writeUInt16LE(targetName.length, 14);
  head.writeUInt32LE(56, 16);
  // UNICODE | REQUEST_TARGET | NTLM | ALWAYS_SIGN | TARGET_TYPE_DOMAIN | EXTENDED_SESSIONSECURITY | TARGET_INFO | VERSION | 128 | 56
  head.writeUInt32LE(0xe28a8215 >>> 0, 20);
  serverChallenge.copy(head, 24);
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(56 + targetName.length, 44);
  Buffer.from([10, 0, 0x7c, 0x4f, 0, 0, 0, 15]).copy(head, 48); // Windows 10.0 build 20348, NTLM revision 15
  return { serverChallenge, message: Buffer.concat([head, targetName, targetInfo]) };
}

export interface Authenticate {
  domain: string;
  user: string;
  workstation: string;
  ntResponse: Buffer;
  /** bytes after the NT response field (some clients put the NTLMv2 blob there) */
  trailing: Buffer;
}

/** AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3). */
export function parseAuthenticate(buf: Buffer): Authenticate | null {
  if (ntlmMessageType(buf) !== 3 || buf.length < 64) return null;
  const field = (at: number) => {
    const length = buf.readUInt16LE(at);
    const offset = buf.readUInt32LE(at + 4);
    if (offset + length > buf.length) throw new Error('NTLM AUTHENTICATE field out of bounds');
    return { data: buf.subarray(offset, offset + length), end: offset + length };
  };
  try {
    const nt = field(20);
    return {
      domain: field(28).data.toString('utf16le'),
      user: field(36).data.toString('utf16le'),
      workstation: field(44).data.toString('utf16le'),
      ntResponse: nt.data,
      trailing: buf.subarray(nt.end),
    };
  } catch {
    return null;
  }
}

/** NTLMv2 (MS-NLMP 3.3.2): NTProofStr = HMAC-MD5(NTOWFv2, server challenge ‖ blob). */
export function verifyNtlmv2(auth: Authenticate, serverChallenge: Buffer, password: string): boolean {
  if (auth.ntResponse.length < 16) return false;
  const proof = auth.ntResponse.subarray(0, 16);
  // The blob follows the proof inside the field; tedious declares a 16-byte field and appends the blob after it.
  const blob = auth.ntResponse.length > 16 ? auth.ntResponse.subarray(16) : auth.trailing;
  const ntHash = md4(Buffer.from(password, 'utf16le'));
  // NTOWFv2 uses the domain as written; tedious upper-cases it, so accept either spelling.
  for (const domain of new Set([auth.domain, auth.domain.toUpperCase()])) {
    const ntowf = createHmac('md5', ntHash).update(Buffer.from(auth.user.toUpperCase() + domain, 'utf16le')).digest();
    const expected = createHmac('md5', ntowf).update(Buffer.concat([serverChallenge, blob])).digest();
    if (expected.equals(proof)) return true;
  }
  return false;
}

/** MD4 (RFC 1320): OpenSSL 3 no longer offers it by default, and NTLM's NT hash needs it. */
export function md4(input: Buffer): Buffer {
  const padded = Buffer.alloc((((input.length + 8) >> 6) + 1) * 64);
  input.copy(padded);
  padded[input.length] = 0x80;
  padded.writeUInt32LE((input.length * 8) >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor((input.length * 8) / 2 ** 32), padded.length - 4);
  let [a, b, c, d] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  const f = (x: number, y: number, z: number) => (x & y) | (~x & z);
  const g = (x: number, y: number, z: number) => (x & y) | (x & z) | (y & z);
  const h = (x: number, y: number, z: number) => x ^ y ^ z;
  for (let block = 0; block < padded.length; block += 64) {
    const x = Array.from({ length: 16 }, (_, i) => padded.readUInt32LE(block + i * 4));
    const [aa, bb, cc, dd] = [a, b, c, d];
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + x[i]) | 0, 3);
      d = rotl((d + f(a, b, c) + x[i + 1]) | 0, 7);
      c = rotl((c + f(d, a, b) + x[i + 2]) | 0, 11);
      b = rotl((b + f(c, d, a) + x[i + 3]) | 0, 19);
    }
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + x[i] + 0x5a827999) | 0, 3);
      d = rotl((d + g(a, b, c) + x[i + 4] + 0x5a827999) | 0, 5);
      c = rotl((c + g(d, a, b) + x[i + 8] + 0x5a827999) | 0, 9);
      b = rotl((b + g(c, d, a) + x[i + 12] + 0x5a827999) | 0, 13);
    }
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + x[i] + 0x6ed9eba1) | 0, 3);
      d = rotl((d + h(a, b, c) + x[i + 8] + 0x6ed9eba1) | 0, 9);
      c = rotl((c + h(d, a, b) + x[i + 4] + 0x6ed9eba1) | 0, 11);
      b = rotl((b + h(c, d, a) + x[i + 12] + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = Buffer.alloc(16);
  [a, b, c, d].forEach((v, i) => out.writeInt32LE(v, i * 4));
  return out;
}
