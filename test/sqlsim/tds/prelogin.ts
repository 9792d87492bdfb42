// PRELOGIN (MS-TDS 2.2.6.5): option table (token, offset, length; big endian) then the data.

import { ProtocolError } from './packets.ts';

export const Option = {
  VERSION: 0x00,
  ENCRYPTION: 0x01,
  INSTOPT: 0x02,
  THREADID: 0x03,
  MARS: 0x04,
  TRACEID: 0x05,
  FEDAUTHREQUIRED: 0x06,
  NONCEOPT: 0x07,
  TERMINATOR: 0xff,
} as const;

export const Encrypt = {
  OFF: 0x00,
  ON: 0x01,
  NOT_SUP: 0x02,
  REQ: 0x03,
} as const;

export interface Prelogin {
  version?: { major: number; minor: number; build: number; subbuild: number };
  encryption?: number;
  instance?: string;
  threadId?: number;
  mars?: number;
  fedAuthRequired?: number;
}

export function parsePrelogin(buf: Buffer): Prelogin {
  const out: Prelogin = {};
  let at = 0;
  for (;;) {
    if (at >= buf.length) throw new ProtocolError('PRELOGIN without a terminator');
    const token = buf[at];
    if (token === Option.TERMINATOR) break;
    if (at + 5 > buf.length) throw new ProtocolError('PRELOGIN option table truncated');
    const offset = buf.readUInt16BE(at + 1);
    const length = buf.readUInt16BE(at + 3);
    if (offset + length > buf.length) throw new ProtocolError('PRELOGIN option data out of bounds');
    const data = buf.subarray(offset, offset + length);
    switch (token) {
      case Option.VERSION:
        if (length >= 6) {
          out.version = { major: data[0], minor: data[1], build: data.readUInt16BE(2), subbuild: data.readUInt16BE(4) };
        }
        break;
      case Option.ENCRYPTION:
        if (length >= 1) out.encryption = data[0];
        break;
      case Option.INSTOPT: {
        const end = data.indexOf(0);
        out.instance = data.subarray(0, end < 0 ? data.length : end).toString('latin1');
        break;
      }
      case Option.THREADID:
        if (length >= 4) out.threadId = data.readUInt32BE(0);
        break;
      case Option.MARS:
        if (length >= 1) out.mars = data[0];
        break;
      case Option.FEDAUTHREQUIRED:
        if (length >= 1) out.fedAuthRequired = data[0];
        break;
    }
    at += 5;
  }
  if (out.version === undefined) throw new ProtocolError('PRELOGIN without a VERSION option');
  return out;
}

export function buildPrelogin(options: { version: [number, number, number, number]; encryption: number; instanceValid?: boolean }): Buffer {
  const [major, minor, build, subbuild] = options.version;
  const version = Buffer.alloc(6);
  version[0] = major;
  version[1] = minor;
  version.writeUInt16BE(build, 2);
  version.writeUInt16BE(subbuild, 4);
  const entries: [number, Buffer][] = [
    [Option.VERSION, version],
    [Option.ENCRYPTION, Buffer.from([options.encryption])],
    [Option.INSTOPT, Buffer.from([options.instanceValid === false ? 1 : 0])],
    [Option.THREADID, Buffer.alloc(0)], // servers send it empty
    [Option.MARS, Buffer.from([0])],
  ];
  const table = Buffer.alloc(entries.length * 5 + 1);
  let dataOffset = table.length;
  entries.forEach(([token, data], i) => {
    table[i * 5] = token;
    table.writeUInt16BE(dataOffset, i * 5 + 1);
    table.writeUInt16BE(data.length, i * 5 + 3);
    dataOffset += data.length;
  });
  table[entries.length * 5] = Option.TERMINATOR;
  return Buffer.concat([table, ...entries.map(([, data]) => data)]);
}

export type EncryptionMode = 'none' | 'off' | 'on' | 'required' | 'strict';

/**
 * The server's answer to the client's ENCRYPTION option (MS-TDS 2.2.6.5):
 * 'none' has no certificate; 'off' encrypts only the login unless the client asks for more;
 * 'on' and 'required' are SQL Server's "Force Encryption" (answering ON or REQ).
 */
export function negotiateEncryption(mode: EncryptionMode, client: number | undefined): number {
  const c = client ?? Encrypt.NOT_SUP;
  switch (mode) {
    case 'none':
    case 'strict': // inside TDS 8.0 TLS the option no longer matters
      return Encrypt.NOT_SUP;
    case 'off':
      if (c === Encrypt.ON || c === Encrypt.REQ) return Encrypt.ON;
      return c === Encrypt.OFF ? Encrypt.OFF : Encrypt.NOT_SUP;
    case 'on':
      return c === Encrypt.NOT_SUP ? Encrypt.REQ : Encrypt.ON;
    case 'required':
      return Encrypt.REQ;
  }
}
