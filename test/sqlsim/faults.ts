// Faults a simulated server can be told to show, selectable per server and changeable while it
// runs. FAULTS is the table of them: name → what the server does. The faults that strike a
// request strike the first request after the login unless `on` aims them at a kind of request.

export const FAULTS = {
  'refuse': 'stop listening: new connections are refused (ECONNREFUSED)',
  'reset-on-accept': 'accept the connection, then reset it at once (ECONNRESET)',
  'black-hole': 'accept the connection, read everything, never answer',
  'stall-after-prelogin': 'answer PRELOGIN, then never answer again (TLS handshake or LOGIN7 hang)',
  'stall-after-login': 'log the client in, then never answer a request',
  'delay': 'delay every reply by `ms` milliseconds',
  'reset-mid-result': 'send the first half of a query result, then reset the connection',
  'garbage': 'answer with a well-framed packet of bytes that are no valid tokens (at `phase`)',
  'truncated-packet': 'send a packet shorter than its header says, then close (or stall with `stall`)',
  'packet-size': 'answer LOGIN7 with an ENVCHANGE packet size of `text` (default "4"; MS-TDS allows only 512..32767)',
  'wrong-tds-version': 'answer LOGIN7 with a LOGINACK naming TDS version `version` (default 0x07000000, unknown to clients)',
  'tls-handshake-failure': 'answer the TLS ClientHello with a handshake_failure alert, then close',
  'login-failure': 'refuse every login with error `number` (default 18456), whatever the password',
  'query-error': 'answer every request with error `number` (default 50000) and no rows',
  'oversized-result': 'answer with `rows` copies (default 50000) of the result\'s first row',
  'server-close': 'close the connection (FIN) when a request arrives (the first after login, or the first of kind `on`)',
  'mutate': 'pass every outgoing message through `mutate(bytes, info)` (for fuzzing)',
  'idle-garbage': 'when set, send a packet header whose length is under 8 (no packet is that short) on every logged-in connection with no request under way, once; later connections are left alone',
} as const;

export type FaultName = keyof typeof FAULTS;

/** The kinds of request a fault can be aimed at with `on`. */
export type RequestKind = 'batch' | 'rpc';

/**
 * The faults that strike a request after the login, and so can take `on`: delay,
 * stall-after-login, reset-mid-result, garbage and truncated-packet (at phase 'query'),
 * query-error, oversized-result, server-close.
 */
const REQUEST_FAULTS: readonly FaultName[] = ['delay', 'stall-after-login', 'reset-mid-result', 'garbage', 'truncated-packet', 'query-error', 'oversized-result', 'server-close'];

/** Where in the exchange a phase-dependent fault (garbage, truncated-packet) strikes. */
export type FaultPhase = 'prelogin' | 'login' | 'query';

export interface MutateInfo {
  phase: FaultPhase | 'tls';
  /** TDS packet type of the message */
  type: number;
}

export interface Fault {
  name: FaultName;
  /** delay: milliseconds before each reply */
  ms?: number;
  /** garbage, truncated-packet: where to strike (default 'query') */
  phase?: FaultPhase;
  /** truncated-packet: stay silent instead of closing after the short packet */
  stall?: boolean;
  /** packet-size: the new value of the packet-size ENVCHANGE, as the text it is sent as */
  text?: string;
  /** wrong-tds-version: the TDS version LOGINACK names */
  version?: number;
  /** login-failure, query-error: the error to send */
  number?: number;
  message?: string;
  severity?: number;
  /** oversized-result: how many rows */
  rows?: number;
  /** mutate: rewrite an outgoing message (TDS bytes, before TLS); return the bytes to send */
  mutate?: (bytes: Buffer, info: MutateInfo) => Buffer;
  /**
   * Request faults only (see REQUEST_FAULTS): strike only requests of this kind — 'batch' a
   * SQL_BATCH, 'rpc' an RPC — and leave every other message, the PRELOGIN and LOGIN7 included,
   * answered as if there were no fault. Default: every request, so the first one after the login
   * (with tedious, its own SET-options batch). `on: 'rpc'` aims at a query sent with parameters
   * (sp_executesql), such as mssql-role-check's facts query; a delay with `on` delays only those.
   */
  on?: RequestKind;
}

/** Throws when a fault's fields do not fit together (an `on` the fault can never honour). */
export function checkFault(fault: Fault): void {
  if (fault.on === undefined) return;
  if (fault.on !== 'batch' && fault.on !== 'rpc') throw new Error(`fault ${fault.name}: on must be 'batch' or 'rpc', not ${JSON.stringify(fault.on)}`);
  if (!REQUEST_FAULTS.includes(fault.name) || (fault.phase ?? 'query') !== 'query') {
    throw new Error(`fault ${fault.name}${fault.phase ? ` at ${fault.phase}` : ''} does not strike a request: 'on' does not apply`);
  }
}

export function isFaultName(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

/** A fault from JSON (the CLI's control interface); `mutate` cannot travel that way. */
export function parseFault(json: unknown): Fault | undefined {
  if (json === null || json === undefined || json === 'none') return undefined;
  const obj = typeof json === 'string' ? { name: json } : (json as Record<string, unknown>);
  if (typeof obj !== 'object' || typeof obj.name !== 'string' || !isFaultName(obj.name)) {
    throw new Error(`unknown fault ${JSON.stringify(json)}; known: ${Object.keys(FAULTS).join(', ')}`);
  }
  if (obj.name === 'mutate') throw new Error('the mutate fault takes a function and cannot be set from JSON');
  const fault = obj as unknown as Fault;
  checkFault(fault);
  return fault;
}
