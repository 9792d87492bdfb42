// Client requests: SQL_BATCH (MS-TDS 2.2.6.7) and RPC (2.2.6.6), both starting with ALL_HEADERS.

import type { Value } from '../types.ts';
import { ProtocolError } from './packets.ts';
import { type ParamType, Reader, readTypeInfo, readValue } from './types.ts';

export interface AllHeaders {
  transactionDescriptor?: Buffer;
  outstandingRequests?: number;
}

/** ALL_HEADERS: total length (including itself), then headers of (length, type, data). */
export function readAllHeaders(r: Reader): AllHeaders {
  const out: AllHeaders = {};
  if (r.remaining < 4) return out;
  const total = r.buf.readUInt32LE(r.at);
  // Without headers the first 4 bytes are text; a plausible total is 4..remaining and leaves the headers well formed.
  if (total < 4 || total > r.remaining) return out;
  const headers = new Reader(r.take(total), 4);
  while (headers.remaining > 0) {
    const length = headers.u32();
    if (length < 6) throw new ProtocolError(`ALL_HEADERS entry of length ${length}`);
    const type = headers.u16();
    const data = headers.take(length - 6);
    if (type === 2 && data.length >= 12) {
      out.transactionDescriptor = data.subarray(0, 8);
      out.outstandingRequests = data.readUInt32LE(8);
    }
  }
  return out;
}

export function parseSqlBatch(payload: Buffer): { headers: AllHeaders; text: string } {
  const r = new Reader(payload);
  const headers = readAllHeaders(r);
  if (r.remaining % 2 !== 0) throw new ProtocolError('SQL_BATCH text is not UCS-2');
  return { headers, text: r.take(r.remaining).toString('utf16le') };
}

export interface RpcParam {
  name: string; // with the leading '@', or '' for a positional parameter
  output: boolean;
  type: ParamType;
  value: Value;
}

export interface RpcCall {
  /** procedure name, or null when called by ProcID */
  name: string | null;
  procId: number | null;
  optionFlags: number;
  params: RpcParam[];
}

export const ProcId = {
  Sp_Cursor: 1,
  Sp_CursorOpen: 2,
  Sp_CursorPrepare: 3,
  Sp_CursorExecute: 4,
  Sp_CursorPrepExec: 5,
  Sp_CursorUnprepare: 6,
  Sp_CursorFetch: 7,
  Sp_CursorOption: 8,
  Sp_CursorClose: 9,
  Sp_ExecuteSql: 10,
  Sp_Prepare: 11,
  Sp_Execute: 12,
  Sp_PrepExec: 13,
  Sp_PrepExecRpc: 14,
  Sp_Unprepare: 15,
} as const;

const PROC_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ProcId).map(([k, v]) => [v, k.toLowerCase()]));

export function procName(call: RpcCall): string {
  return call.name ?? PROC_NAMES[call.procId ?? -1] ?? `procid ${call.procId}`;
}

/** An RPC request may hold several calls separated by a BatchFlag (0x80) or NoExecFlag (0xFF). */
export function parseRpc(payload: Buffer): { headers: AllHeaders; calls: RpcCall[] } {
  const r = new Reader(payload);
  const headers = readAllHeaders(r);
  const calls: RpcCall[] = [];
  for (;;) {
    const nameLength = r.u16();
    let name: string | null = null;
    let procId: number | null = null;
    if (nameLength === 0xffff) procId = r.u16();
    else name = r.take(nameLength * 2).toString('utf16le');
    const optionFlags = r.u16();
    const params: RpcParam[] = [];
    while (r.remaining > 0 && r.buf[r.at] !== 0x80 && r.buf[r.at] !== 0xff) {
      const paramName = r.bVarchar();
      const status = r.u8();
      const type = readTypeInfo(r);
      params.push({ name: paramName, output: (status & 0x01) !== 0, type, value: readValue(r, type) });
    }
    calls.push({ name, procId, optionFlags, params });
    if (r.remaining === 0) break;
    r.u8(); // batch separator
    if (r.remaining === 0) break;
  }
  return { headers, calls };
}
