// LOGIN7 (MS-TDS 2.2.6.4): a 94-byte fixed part of flags and (offset, length) pairs into the
// variable part; strings are UCS-2, the password is obfuscated.

import { ProtocolError } from './packets.ts';

export interface Login7 {
  tdsVersion: number;
  packetSize: number;
  clientPid: number;
  optionFlags1: number;
  optionFlags2: number;
  typeFlags: number;
  optionFlags3: number;
  hostName: string;
  userName: string;
  password: string;
  appName: string;
  serverName: string;
  libraryName: string;
  language: string;
  database: string;
  /** integrated security (SSPI/NTLM/Kerberos) requested: OptionFlags2 fIntSecurity */
  integratedSecurity: boolean;
  sspi: Buffer;
  changePassword: string;
  /** FeatureExt ids the client asked for, with their data */
  features: Map<number, Buffer>;
}

export const Feature = {
  SESSIONRECOVERY: 0x01,
  FEDAUTH: 0x02,
  COLUMNENCRYPTION: 0x04,
  GLOBALTRANSACTIONS: 0x05,
  AZURESQLSUPPORT: 0x08,
  DATACLASSIFICATION: 0x09,
  UTF8_SUPPORT: 0x0a,
  TERMINATOR: 0xff,
} as const;

const FIXED_LENGTH = 94;

/** Undo the password obfuscation: each byte had its nibbles swapped and was XORed with 0xA5. */
export function deobfuscatePassword(bytes: Buffer): string {
  const plain = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ^ 0xa5;
    plain[i] = ((b << 4) & 0xf0) | (b >> 4);
  }
  return plain.toString('utf16le');
}

export function obfuscatePassword(password: string): Buffer {
  const bytes = Buffer.from(password, 'utf16le');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    bytes[i] = (((b << 4) & 0xf0) | (b >> 4)) ^ 0xa5;
  }
  return bytes;
}

export function parseLogin7(buf: Buffer): Login7 {
  if (buf.length < FIXED_LENGTH) throw new ProtocolError(`LOGIN7 of ${buf.length} bytes is shorter than its fixed part`);
  const declared = buf.readUInt32LE(0);
  if (declared > buf.length) throw new ProtocolError(`LOGIN7 declares ${declared} bytes but has ${buf.length}`);

  const slice = (at: number, bytes: number): Buffer => {
    if (at + bytes > buf.length) throw new ProtocolError('LOGIN7 field out of bounds');
    return buf.subarray(at, at + bytes);
  };
  // A variable field: offset and length in characters (UCS-2) at `pos` in the fixed part.
  const field = (pos: number): Buffer => slice(buf.readUInt16LE(pos), buf.readUInt16LE(pos + 2) * 2);
  const text = (pos: number): string => field(pos).toString('utf16le');

  const optionFlags2 = buf[25];
  const optionFlags3 = buf[27];
  const sspiLength = buf.readUInt16LE(80) === 0xffff ? buf.readUInt32LE(90) : buf.readUInt16LE(80);

  const features = new Map<number, Buffer>();
  const extensionOffset = buf.readUInt16LE(56);
  const extensionLength = buf.readUInt16LE(58);
  if (optionFlags3 & 0x10 && extensionLength >= 4) {
    let at = slice(extensionOffset, 4).readUInt32LE(0);
    for (;;) {
      const id = slice(at, 1)[0];
      if (id === Feature.TERMINATOR) break;
      const length = slice(at + 1, 4).readUInt32LE(0);
      features.set(id, slice(at + 5, length));
      at += 5 + length;
    }
  }

  return {
    tdsVersion: buf.readUInt32LE(4),
    packetSize: buf.readUInt32LE(8),
    clientPid: buf.readUInt32LE(16),
    optionFlags1: buf[24],
    optionFlags2,
    typeFlags: buf[26],
    optionFlags3,
    hostName: text(36),
    userName: text(40),
    password: deobfuscatePassword(field(44)),
    appName: text(48),
    serverName: text(52),
    libraryName: text(60),
    language: text(64),
    database: text(68),
    integratedSecurity: (optionFlags2 & 0x80) !== 0,
    sspi: slice(buf.readUInt16LE(78), sspiLength),
    changePassword: deobfuscatePassword(field(86)),
    features,
  };
}
