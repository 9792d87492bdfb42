// Data types (MS-TDS 2.2.5.4, 2.2.5.5): TYPE_INFO and value encoding for result columns, and
// decoding of the typed parameters a client sends in an RPC request.

import type { Column, Value } from '../types.ts';
import { ProtocolError } from './packets.ts';

export const TypeId = {
  NULL: 0x1f,
  INT1: 0x30,
  BIT: 0x32,
  INT2: 0x34,
  INT4: 0x38,
  DATETIM4: 0x3a,
  FLT4: 0x3b,
  MONEY: 0x3c,
  DATETIME: 0x3d,
  FLT8: 0x3e,
  MONEY4: 0x7a,
  INT8: 0x7f,
  GUID: 0x24,
  INTN: 0x26,
  DECIMAL: 0x37,
  NUMERIC: 0x3f,
  BITN: 0x68,
  DECIMALN: 0x6a,
  NUMERICN: 0x6c,
  FLTN: 0x6d,
  MONEYN: 0x6e,
  DATETIMN: 0x6f,
  DATEN: 0x28,
  TIMEN: 0x29,
  DATETIME2N: 0x2a,
  DATETIMEOFFSETN: 0x2b,
  BIGVARBIN: 0xa5,
  BIGVARCHR: 0xa7,
  BIGBINARY: 0xad,
  BIGCHAR: 0xaf,
  NVARCHAR: 0xe7,
  NCHAR: 0xef,
  IMAGE: 0x22,
  TEXT: 0x23,
  NTEXT: 0x63,
  SSVARIANT: 0x62,
  XML: 0xf1,
  UDT: 0xf0,
  TVP: 0xf3,
} as const;

/** SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, case/accent/kana/width flags, sort id 52. */
export const DEFAULT_COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

const NVARCHAR_MAX_CHARS = 4000;
const VARCHAR_MAX_BYTES = 8000;
const VARIANT_MAX_LENGTH = 8016;
const MS_PER_DAY = 86_400_000;
const EPOCH_1900 = Date.UTC(1900, 0, 1);
const EPOCH_0001 = Date.UTC(2000, 0, 1) - 730_119 * MS_PER_DAY; // 0001-01-01, which Date.UTC cannot name

// ---------------------------------------------------------------------------------------------
// Result columns

/** TYPE_INFO of a result column. NOT NULL integer/bit/datetime columns use the fixed-length types, as SQL Server does. */
export function typeInfo(column: Column): Buffer {
  const fixed = !column.nullable;
  switch (column.type) {
    case 'int':
      return fixed ? Buffer.from([TypeId.INT4]) : Buffer.from([TypeId.INTN, 4]);
    case 'smallint':
      return fixed ? Buffer.from([TypeId.INT2]) : Buffer.from([TypeId.INTN, 2]);
    case 'tinyint':
      return fixed ? Buffer.from([TypeId.INT1]) : Buffer.from([TypeId.INTN, 1]);
    case 'bigint':
      return fixed ? Buffer.from([TypeId.INT8]) : Buffer.from([TypeId.INTN, 8]);
    case 'bit':
      return fixed ? Buffer.from([TypeId.BIT]) : Buffer.from([TypeId.BITN, 1]);
    case 'datetime':
      return fixed ? Buffer.from([TypeId.DATETIME]) : Buffer.from([TypeId.DATETIMN, 8]);
    case 'uniqueidentifier':
      return Buffer.from([TypeId.GUID, 16]);
    case 'nvarchar': {
      const chars = Math.min(column.length ?? NVARCHAR_MAX_CHARS, NVARCHAR_MAX_CHARS);
      const b = Buffer.alloc(8);
      b[0] = TypeId.NVARCHAR;
      b.writeUInt16LE(chars * 2, 1);
      DEFAULT_COLLATION.copy(b, 3);
      return b;
    }
    case 'sql_variant': {
      const b = Buffer.alloc(5);
      b[0] = TypeId.SSVARIANT;
      b.writeUInt32LE(VARIANT_MAX_LENGTH, 1);
      return b;
    }
    case 'varchar': {
      const b = Buffer.alloc(8);
      b[0] = TypeId.BIGVARCHR;
      b.writeUInt16LE(Math.min(column.length ?? VARCHAR_MAX_BYTES, VARCHAR_MAX_BYTES), 1);
      DEFAULT_COLLATION.copy(b, 3);
      return b;
    }
    case 'varbinary': {
      const b = Buffer.alloc(3);
      b[0] = TypeId.BIGVARBIN;
      b.writeUInt16LE(Math.min(column.length ?? VARCHAR_MAX_BYTES, VARCHAR_MAX_BYTES), 1);
      return b;
    }
    case 'numeric': {
      const precision = column.precision ?? 18;
      return Buffer.from([TypeId.NUMERICN, numericLength(precision), precision, column.scale ?? 0]);
    }
    case 'float':
      return fixed ? Buffer.from([TypeId.FLT8]) : Buffer.from([TypeId.FLTN, 8]);
  }
  throw new Error(`column ${column.name}: no TDS encoding for type ${String(column.type)}`);
}

/** One column value as it appears in a ROW token. `value` must not be null for a NOT NULL column. */
export function encodeValue(column: Column, value: Value): Buffer {
  const fixed = !column.nullable;
  if (value === null || value === undefined) {
    if (fixed) throw new Error(`NULL in NOT NULL column ${column.name}`);
    switch (column.type) {
      case 'nvarchar':
      case 'varchar':
      case 'varbinary':
        return Buffer.from([0xff, 0xff]);
      case 'sql_variant':
        return Buffer.alloc(4);
      default:
        return Buffer.from([0]); // BYTELEN types: length 0 is NULL
    }
  }
  const withLength = (data: Buffer): Buffer => (fixed ? data : Buffer.concat([Buffer.from([data.length]), data]));
  switch (column.type) {
    case 'int':
      return withLength(int(value, 4, column.name));
    case 'smallint':
      return withLength(int(value, 2, column.name));
    case 'tinyint':
      return withLength(int(value, 1, column.name));
    case 'bigint':
      return withLength(int(value, 8, column.name));
    case 'bit':
      return withLength(Buffer.from([truthy(value) ? 1 : 0]));
    case 'datetime':
      return withLength(datetime(value));
    case 'uniqueidentifier':
      return Buffer.concat([Buffer.from([16]), guid(String(value))]);
    case 'nvarchar': {
      const data = Buffer.from(String(value), 'utf16le');
      const max = Math.min(column.length ?? NVARCHAR_MAX_CHARS, NVARCHAR_MAX_CHARS) * 2;
      if (data.length > max) throw new Error(`value of ${column.name} longer than nvarchar(${max / 2})`);
      const len = Buffer.alloc(2);
      len.writeUInt16LE(data.length);
      return Buffer.concat([len, data]);
    }
    case 'sql_variant':
      return variant(value);
    case 'varchar':
    case 'varbinary': {
      const data = column.type === 'varbinary' ? binary(value) : Buffer.from(String(value), 'latin1');
      const max = Math.min(column.length ?? VARCHAR_MAX_BYTES, VARCHAR_MAX_BYTES);
      if (data.length > max) throw new Error(`value of ${column.name} longer than ${column.type}(${max})`);
      const len = Buffer.alloc(2);
      len.writeUInt16LE(data.length);
      return Buffer.concat([len, data]);
    }
    case 'numeric': {
      const precision = column.precision ?? 18;
      const scaled = scaledInteger(value, column.scale ?? 0, column.name);
      const size = numericLength(precision);
      const b = Buffer.alloc(size + 1);
      b[0] = size;
      b[1] = scaled < 0n ? 0 : 1;
      let magnitude = scaled < 0n ? -scaled : scaled;
      for (let i = 2; i <= size; i++) {
        b[i] = Number(magnitude & 0xffn);
        magnitude >>= 8n;
      }
      if (magnitude !== 0n) throw new Error(`value of ${column.name} does not fit numeric(${precision})`);
      return b;
    }
    case 'float': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(Number(value));
      return withLength(b);
    }
  }
  throw new Error(`column ${column.name}: no TDS encoding for type ${String(column.type)}`);
}

/** Bytes of a NUMERICN value (sign included) for a precision (MS-TDS 2.2.5.5.1.6). */
function numericLength(precision: number): number {
  return precision <= 9 ? 5 : precision <= 19 ? 9 : precision <= 28 ? 13 : 17;
}

/** The value times 10^scale as an exact integer; strings and bigints keep digits a double would lose. */
function scaledInteger(value: Value, scale: number, name: string): bigint {
  const factor = 10n ** BigInt(scale);
  if (typeof value === 'bigint') return value * factor;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value) * factor;
  if (typeof value === 'number') return BigInt(Math.round(value * 10 ** scale));
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(String(value));
  if (!m || (m[2] === '' && !m[3])) throw new Error(`column ${name}: ${String(value)} is not a number`);
  const fraction = (m[3] ?? '').padEnd(scale, '0').slice(0, scale);
  const n = BigInt((m[2] || '0') + fraction);
  return m[1] === '-' ? -n : n;
}

function binary(value: Value): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const text = String(value);
  if (/^0x[0-9a-fA-F]*$/.test(text)) return Buffer.from(text.slice(2), 'hex');
  throw new Error(`not binary: ${text.slice(0, 40)}`);
}

function int(value: Value, bytes: 1 | 2 | 4 | 8, name: string): Buffer {
  const b = Buffer.alloc(bytes);
  const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (typeof n !== 'number' && typeof n !== 'bigint' && typeof n !== 'string') throw new Error(`column ${name}: ${typeof value} is not an integer`);
  if (bytes === 8) {
    b.writeBigInt64LE(BigInt(n));
    return b;
  }
  const v = Number(n);
  if (!Number.isInteger(v)) throw new Error(`column ${name}: ${String(value)} is not an integer`);
  if (bytes === 1) b.writeUInt8(v);
  else if (bytes === 2) b.writeInt16LE(v);
  else b.writeInt32LE(v);
  return b;
}

function truthy(value: Value): boolean {
  if (typeof value === 'string') return value !== '0' && value.toLowerCase() !== 'false';
  return Boolean(value);
}

/** datetime: days since 1900-01-01 and 1/300 s since midnight, taken in UTC (tedious reads it as UTC by default). */
export function datetime(value: Value): Buffer {
  const ms = (value instanceof Date ? value : new Date(String(value))).getTime();
  if (Number.isNaN(ms)) throw new Error(`not a datetime: ${String(value)}`);
  let days = Math.floor((ms - EPOCH_1900) / MS_PER_DAY);
  let ticks = Math.round(((ms - EPOCH_1900 - days * MS_PER_DAY) * 300) / 1000);
  if (ticks >= 300 * 86400) {
    days += 1;
    ticks = 0;
  }
  const b = Buffer.alloc(8);
  b.writeInt32LE(days, 0);
  b.writeUInt32LE(ticks, 4);
  return b;
}

/** uniqueidentifier: the first three groups little endian, the rest as written. */
export function guid(text: string): Buffer {
  const hexText = text.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hexText)) throw new Error(`not a uniqueidentifier: ${text}`);
  const raw = Buffer.from(hexText, 'hex');
  return Buffer.concat([raw.subarray(0, 4).reverse(), raw.subarray(4, 6).reverse(), raw.subarray(6, 8).reverse(), raw.subarray(8)]);
}

export function guidToString(b: Buffer): string {
  const raw = Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8, 16)]);
  const h = raw.toString('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** sql_variant: base type, property bytes, value (MS-TDS 2.2.5.5.4); the base type follows the JS value. */
function variant(value: Value): Buffer {
  let base: number;
  let props: Buffer;
  let data: Buffer;
  if (typeof value === 'string') {
    base = TypeId.NVARCHAR;
    data = Buffer.from(value, 'utf16le');
    props = Buffer.alloc(7);
    DEFAULT_COLLATION.copy(props, 0);
    props.writeUInt16LE(Math.max(data.length, 2), 5);
  } else if (typeof value === 'boolean') {
    base = TypeId.BIT;
    props = Buffer.alloc(0);
    data = Buffer.from([value ? 1 : 0]);
  } else if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value) && (value > 2147483647 || value < -2147483648))) {
    base = TypeId.INT8;
    props = Buffer.alloc(0);
    data = Buffer.alloc(8);
    data.writeBigInt64LE(BigInt(value));
  } else if (typeof value === 'number' && Number.isInteger(value)) {
    base = TypeId.INT4;
    props = Buffer.alloc(0);
    data = Buffer.alloc(4);
    data.writeInt32LE(value);
  } else if (typeof value === 'number') {
    base = TypeId.FLT8;
    props = Buffer.alloc(0);
    data = Buffer.alloc(8);
    data.writeDoubleLE(value);
  } else if (value instanceof Date) {
    base = TypeId.DATETIME;
    props = Buffer.alloc(0);
    data = datetime(value);
  } else if (value instanceof Uint8Array) {
    base = TypeId.BIGVARBIN;
    data = binary(value);
    props = Buffer.alloc(2);
    props.writeUInt16LE(Math.max(data.length, 1));
  } else {
    throw new Error(`no sql_variant base type for ${String(value)}`);
  }
  const total = 2 + props.length + data.length;
  const head = Buffer.alloc(6);
  head.writeUInt32LE(total, 0);
  head[4] = base;
  head[5] = props.length;
  return Buffer.concat([head, props, data]);
}

// ---------------------------------------------------------------------------------------------
// RPC parameters

export interface ParamType {
  id: number;
  name: string;
  maxLength?: number;
  precision?: number;
  scale?: number;
  collation?: Buffer;
}

/** A cursor over a buffer that throws ProtocolError when a read runs past the end. */
export class Reader {
  buf: Buffer;
  at: number;
  constructor(buf: Buffer, at = 0) {
    this.buf = buf;
    this.at = at;
  }
  get remaining(): number {
    return this.buf.length - this.at;
  }
  take(n: number): Buffer {
    if (n < 0 || this.at + n > this.buf.length) throw new ProtocolError(`read of ${n} bytes past the end of the message`);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0];
  }
  u16(): number {
    return this.take(2).readUInt16LE(0);
  }
  u32(): number {
    return this.take(4).readUInt32LE(0);
  }
  u64(): bigint {
    return this.take(8).readBigUInt64LE(0);
  }
  bVarchar(): string {
    return this.take(this.u8() * 2).toString('utf16le');
  }
  usVarchar(): string {
    return this.take(this.u16() * 2).toString('utf16le');
  }
}

const FIXED_SIZES: Record<number, [string, number]> = {
  [TypeId.NULL]: ['null', 0],
  [TypeId.INT1]: ['tinyint', 1],
  [TypeId.BIT]: ['bit', 1],
  [TypeId.INT2]: ['smallint', 2],
  [TypeId.INT4]: ['int', 4],
  [TypeId.DATETIM4]: ['smalldatetime', 4],
  [TypeId.FLT4]: ['real', 4],
  [TypeId.MONEY]: ['money', 8],
  [TypeId.DATETIME]: ['datetime', 8],
  [TypeId.FLT8]: ['float', 8],
  [TypeId.MONEY4]: ['smallmoney', 4],
  [TypeId.INT8]: ['bigint', 8],
};

const NAMES: Record<number, string> = {
  [TypeId.GUID]: 'uniqueidentifier',
  [TypeId.INTN]: 'intn',
  [TypeId.DECIMAL]: 'decimal',
  [TypeId.NUMERIC]: 'numeric',
  [TypeId.BITN]: 'bit',
  [TypeId.DECIMALN]: 'decimal',
  [TypeId.NUMERICN]: 'numeric',
  [TypeId.FLTN]: 'float',
  [TypeId.MONEYN]: 'money',
  [TypeId.DATETIMN]: 'datetime',
  [TypeId.DATEN]: 'date',
  [TypeId.TIMEN]: 'time',
  [TypeId.DATETIME2N]: 'datetime2',
  [TypeId.DATETIMEOFFSETN]: 'datetimeoffset',
  [TypeId.BIGVARBIN]: 'varbinary',
  [TypeId.BIGVARCHR]: 'varchar',
  [TypeId.BIGBINARY]: 'binary',
  [TypeId.BIGCHAR]: 'char',
  [TypeId.NVARCHAR]: 'nvarchar',
  [TypeId.NCHAR]: 'nchar',
  [TypeId.IMAGE]: 'image',
  [TypeId.TEXT]: 'text',
  [TypeId.NTEXT]: 'ntext',
  [TypeId.SSVARIANT]: 'sql_variant',
};

/** Reads a TYPE_INFO (MS-TDS 2.2.5.6) of the kinds a client may send as a parameter. */
export function readTypeInfo(r: Reader): ParamType {
  const id = r.u8();
  const fixed = FIXED_SIZES[id];
  if (fixed) return { id, name: fixed[0], maxLength: fixed[1] };
  const name = NAMES[id];
  if (name === undefined) throw new UnsupportedType(id);
  switch (id) {
    case TypeId.DATEN:
      return { id, name };
    case TypeId.TIMEN:
    case TypeId.DATETIME2N:
    case TypeId.DATETIMEOFFSETN:
      return { id, name, scale: r.u8() };
    case TypeId.DECIMAL:
    case TypeId.NUMERIC:
    case TypeId.DECIMALN:
    case TypeId.NUMERICN:
      return { id, name, maxLength: r.u8(), precision: r.u8(), scale: r.u8() };
    case TypeId.BIGVARCHR:
    case TypeId.BIGCHAR:
    case TypeId.NVARCHAR:
    case TypeId.NCHAR:
      return { id, name, maxLength: r.u16(), collation: r.take(5) };
    case TypeId.BIGVARBIN:
    case TypeId.BIGBINARY:
      return { id, name, maxLength: r.u16() };
    case TypeId.TEXT:
    case TypeId.NTEXT:
      return { id, name, maxLength: r.u32(), collation: r.take(5) };
    case TypeId.IMAGE:
    case TypeId.SSVARIANT:
      return { id, name, maxLength: r.u32() };
    default:
      return { id, name, maxLength: r.u8() };
  }
}

export class UnsupportedType extends Error {
  readonly typeId: number;
  constructor(typeId: number) {
    super(`parameter type 0x${typeId.toString(16)} is not supported by the simulator`);
    this.typeId = typeId;
  }
}

/** Reads one parameter value of the given type. */
export function readValue(r: Reader, type: ParamType): Value {
  const fixed = FIXED_SIZES[type.id];
  if (fixed) return type.id === TypeId.NULL ? null : decodeScalar(type, r.take(fixed[1]));
  switch (type.id) {
    case TypeId.BIGVARCHR:
    case TypeId.BIGCHAR:
    case TypeId.NVARCHAR:
    case TypeId.NCHAR:
    case TypeId.BIGVARBIN:
    case TypeId.BIGBINARY: {
      if (type.maxLength === 0xffff) {
        const data = readPlp(r);
        return data === null ? null : decodeScalar(type, data);
      }
      const length = r.u16();
      return length === 0xffff ? null : decodeScalar(type, r.take(length));
    }
    case TypeId.TEXT:
    case TypeId.NTEXT:
    case TypeId.IMAGE:
    case TypeId.SSVARIANT: {
      const length = r.u32();
      if (length === 0xffffffff || (type.id === TypeId.SSVARIANT && length === 0)) return null;
      return decodeScalar(type, r.take(length));
    }
    default: {
      const length = r.u8();
      return length === 0 ? null : decodeScalar(type, r.take(length));
    }
  }
}

/** PLP (partially length-prefixed) data: total length, then chunks ending in a zero-length chunk. */
function readPlp(r: Reader): Buffer | null {
  const total = r.u64();
  if (total === 0xffffffffffffffffn) return null;
  const chunks: Buffer[] = [];
  for (;;) {
    const n = r.u32();
    if (n === 0) break;
    chunks.push(r.take(n));
  }
  return Buffer.concat(chunks);
}

function decodeScalar(type: ParamType, data: Buffer): Value {
  switch (type.id) {
    case TypeId.INT1:
      return data.readUInt8(0);
    case TypeId.INT2:
      return data.readInt16LE(0);
    case TypeId.INT4:
      return data.readInt32LE(0);
    case TypeId.INT8:
      return bigToValue(data.readBigInt64LE(0));
    case TypeId.INTN:
      switch (data.length) {
        case 1:
          return data.readUInt8(0);
        case 2:
          return data.readInt16LE(0);
        case 4:
          return data.readInt32LE(0);
        case 8:
          return bigToValue(data.readBigInt64LE(0));
      }
      throw new ProtocolError(`INTN of ${data.length} bytes`);
    case TypeId.BIT:
    case TypeId.BITN:
      return data[0] !== 0;
    case TypeId.FLT4:
      return data.readFloatLE(0);
    case TypeId.FLT8:
      return data.readDoubleLE(0);
    case TypeId.FLTN:
      return data.length === 4 ? data.readFloatLE(0) : data.readDoubleLE(0);
    case TypeId.MONEY:
    case TypeId.MONEY4:
    case TypeId.MONEYN:
      return data.length === 4 ? data.readInt32LE(0) / 10000 : Number((BigInt(data.readInt32LE(0)) << 32n) + BigInt(data.readUInt32LE(4))) / 10000;
    case TypeId.DATETIME:
    case TypeId.DATETIM4:
    case TypeId.DATETIMN:
      if (data.length === 4) return new Date(EPOCH_1900 + data.readUInt16LE(0) * MS_PER_DAY + data.readUInt16LE(2) * 60_000);
      return new Date(EPOCH_1900 + data.readInt32LE(0) * MS_PER_DAY + Math.round((data.readUInt32LE(4) * 1000) / 300));
    case TypeId.DATEN:
      return new Date(EPOCH_0001 + data.readUIntLE(0, 3) * MS_PER_DAY);
    case TypeId.TIMEN:
      return new Date(EPOCH_1900 + timeMs(data, type.scale ?? 7));
    case TypeId.DATETIME2N: {
      const t = data.length - 3;
      return new Date(EPOCH_0001 + data.readUIntLE(t, 3) * MS_PER_DAY + timeMs(data.subarray(0, t), type.scale ?? 7));
    }
    case TypeId.DATETIMEOFFSETN: {
      const t = data.length - 5;
      return new Date(EPOCH_0001 + data.readUIntLE(t, 3) * MS_PER_DAY + timeMs(data.subarray(0, t), type.scale ?? 7));
    }
    case TypeId.DECIMAL:
    case TypeId.NUMERIC:
    case TypeId.DECIMALN:
    case TypeId.NUMERICN: {
      let magnitude = 0n;
      for (let i = data.length - 1; i >= 1; i--) magnitude = (magnitude << 8n) + BigInt(data[i]);
      return ((data[0] === 1 ? 1 : -1) * Number(magnitude)) / 10 ** (type.scale ?? 0);
    }
    case TypeId.GUID:
      return guidToString(data);
    case TypeId.NVARCHAR:
    case TypeId.NCHAR:
    case TypeId.NTEXT:
      return data.toString('utf16le');
    case TypeId.BIGVARCHR:
    case TypeId.BIGCHAR:
    case TypeId.TEXT:
      return data.toString('latin1');
    case TypeId.BIGVARBIN:
    case TypeId.BIGBINARY:
    case TypeId.IMAGE:
      return Buffer.from(data);
    case TypeId.SSVARIANT: {
      const r = new Reader(data);
      const base = r.u8();
      const propBytes = r.u8();
      const props = new Reader(r.take(propBytes));
      const inner: ParamType = { id: base, name: NAMES[base] ?? FIXED_SIZES[base]?.[0] ?? 'unknown' };
      if (base === TypeId.DECIMALN || base === TypeId.NUMERICN) {
        inner.precision = props.u8();
        inner.scale = props.u8();
      } else if (base === TypeId.TIMEN || base === TypeId.DATETIME2N || base === TypeId.DATETIMEOFFSETN) {
        inner.scale = props.u8();
      }
      return decodeScalar(inner, r.take(r.remaining));
    }
  }
  throw new UnsupportedType(type.id);
}

function timeMs(data: Buffer, scale: number): number {
  return (data.readUIntLE(0, data.length) / 10 ** scale) * 1000;
}

function bigToValue(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}
