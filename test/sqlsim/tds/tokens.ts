// Tokens of the server's tabular response (MS-TDS 2.2.7).

import type { Column, Value } from '../types.ts';
import { DEFAULT_COLLATION, encodeValue, typeInfo } from './types.ts';

export const Token = {
  RETURNSTATUS: 0x79,
  COLMETADATA: 0x81,
  ERROR: 0xaa,
  INFO: 0xab,
  LOGINACK: 0xad,
  FEATUREEXTACK: 0xae,
  ROW: 0xd1,
  NBCROW: 0xd2,
  ENVCHANGE: 0xe3,
  SSPI: 0xed,
  DONE: 0xfd,
  DONEPROC: 0xfe,
  DONEINPROC: 0xff,
} as const;

export const DoneStatus = {
  FINAL: 0x00,
  MORE: 0x01,
  ERROR: 0x02,
  INXACT: 0x04,
  COUNT: 0x10,
  ATTN: 0x20,
  SRVERROR: 0x100,
} as const;

/** CurCmd values of DONE tokens (the statement kind that finished). */
export const CurCmd = { NONE: 0x00, SELECT: 0xc1, EXECUTE: 0xe0, SET: 0xf9 } as const;

export const EnvChange = {
  DATABASE: 1,
  LANGUAGE: 2,
  PACKET_SIZE: 4,
  SQL_COLLATION: 7,
  DATABASE_MIRRORING_PARTNER: 13,
  RESET_CONNECTION: 18,
  ROUTING: 20,
} as const;

export const TDS_7_4 = 0x74000004;

function bVarchar(s: string): Buffer {
  const data = Buffer.from(s, 'utf16le');
  return Buffer.concat([Buffer.from([s.length]), data]);
}

function usVarchar(s: string): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16LE(s.length);
  return Buffer.concat([len, Buffer.from(s, 'utf16le')]);
}

/** A token with a USHORT length after its type byte. */
function withLength16(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16LE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function envChangeText(type: number, newValue: string, oldValue: string): Buffer {
  return withLength16(Token.ENVCHANGE, Buffer.concat([Buffer.from([type]), bVarchar(newValue), bVarchar(oldValue)]));
}

export function envChangeBytes(type: number, newValue: Buffer, oldValue: Buffer): Buffer {
  return withLength16(
    Token.ENVCHANGE,
    Buffer.concat([Buffer.from([type, newValue.length]), newValue, Buffer.from([oldValue.length]), oldValue]),
  );
}

/**
 * ENVCHANGE type 20, Routing (MS-TDS 2.2.7.9): new value = RoutingDataValueLength (USHORT), then
 * Protocol (BYTE, 0 = TCP), ProtocolProperty (USHORT, the TCP port) and AlternateServer
 * (US_VARCHAR); old value = 0x0000. Sent in the login response, after LOGINACK.
 */
export function routingChange(server: string, port: number): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0; // TCP
  head.writeUInt16LE(port, 1);
  const data = Buffer.concat([head, usVarchar(server)]);
  const length = Buffer.alloc(2);
  length.writeUInt16LE(data.length);
  return withLength16(Token.ENVCHANGE, Buffer.concat([Buffer.from([EnvChange.ROUTING]), length, data, Buffer.alloc(2)]));
}

export function collationChange(): Buffer {
  return envChangeBytes(EnvChange.SQL_COLLATION, DEFAULT_COLLATION, Buffer.alloc(0));
}

export interface MessageFields {
  number: number;
  state: number;
  severity: number;
  message: string;
  serverName: string;
  procName?: string;
  line?: number;
}

/** ERROR (severity > 10) or INFO token: the same layout. */
export function message(m: MessageFields): Buffer {
  const head = Buffer.alloc(6);
  head.writeInt32LE(m.number, 0);
  head[4] = m.state;
  head[5] = m.severity;
  const line = Buffer.alloc(4);
  line.writeInt32LE(m.line ?? 1);
  const body = Buffer.concat([head, usVarchar(m.message), bVarchar(m.serverName), bVarchar(m.procName ?? ''), line]);
  return withLength16(m.severity > 10 ? Token.ERROR : Token.INFO, body);
}

export function loginAck(tdsVersion: number, progName: string, version: [number, number, number]): Buffer {
  const [major, minor, build] = version;
  const head = Buffer.alloc(5);
  head[0] = 1; // interface: SQL_TSQL
  head.writeUInt32BE(tdsVersion >>> 0, 1); // big endian, unlike everything else
  const ver = Buffer.from([major, minor, (build >> 8) & 0xff, build & 0xff]);
  return withLength16(Token.LOGINACK, Buffer.concat([head, bVarchar(progName), ver]));
}

export function featureExtAck(features: [number, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from([Token.FEATUREEXTACK])];
  for (const [id, data] of features) {
    const head = Buffer.alloc(5);
    head[0] = id;
    head.writeUInt32LE(data.length, 1);
    parts.push(head, data);
  }
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

export function done(token: number, status: number, curCmd: number, rowCount: number | bigint): Buffer {
  const b = Buffer.alloc(13);
  b[0] = token;
  b.writeUInt16LE(status, 1);
  b.writeUInt16LE(curCmd, 3);
  b.writeBigUInt64LE(BigInt(rowCount), 5);
  return b;
}

export function returnStatus(value: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = Token.RETURNSTATUS;
  b.writeInt32LE(value, 1);
  return b;
}

export function colMetadata(columns: Column[]): Buffer {
  const head = Buffer.alloc(3);
  head[0] = Token.COLMETADATA;
  head.writeUInt16LE(columns.length, 1);
  const parts: Buffer[] = [head];
  for (const c of columns) {
    const fixed = Buffer.alloc(6); // UserType (ULONG) and Flags (USHORT)
    fixed.writeUInt16LE(c.nullable ? 0x0001 : 0x0000, 4);
    parts.push(fixed, typeInfo(c), bVarchar(c.name));
  }
  return Buffer.concat(parts);
}

/** ROW, or NBCROW (a null bitmap, then only the non-null values) when the row has NULLs. */
export function row(columns: Column[], values: Value[]): Buffer {
  const hasNull = values.some((v) => v === null || v === undefined);
  if (!hasNull) return Buffer.concat([Buffer.from([Token.ROW]), ...columns.map((c, i) => encodeValue(c, values[i]))]);
  const bitmap = Buffer.alloc(Math.ceil(columns.length / 8));
  const parts: Buffer[] = [];
  columns.forEach((c, i) => {
    const v = values[i];
    if (v === null || v === undefined) bitmap[i >> 3] |= 1 << (i & 7);
    else parts.push(encodeValue(c, v));
  });
  return Buffer.concat([Buffer.from([Token.NBCROW]), bitmap, ...parts]);
}

export function sspi(data: Buffer): Buffer {
  return withLength16(Token.SSPI, data);
}
