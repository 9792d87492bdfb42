// Connect and log in: one tedious connection (no pool: a pool would log in twice and send a
// validation query), with DNS and TCP timed by our own connector and the later steps timed from
// tedious's state changes.
import { Connection, ConnectionError, RequestError } from 'tedious';
import type { ConnectionConfiguration } from 'tedious';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { domainToASCII } from 'node:url';
import type { ProbeContext, ProbeError } from './types.ts';
import type { Phase } from '../phases.ts';

// tedious's state names → our phases.
const STATE_PHASE: Record<string, Phase> = {
  SentPrelogin: 'prelogin',
  SentTLSSSLNegotiation: 'prelogin',
  SentLogin7WithStandardLogin: 'login',
  SentLogin7WithNTLMLogin: 'login',
  SentClientRequest: 'query',
};

function connectOne(address: string, family: number, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, family, port });
    const onError = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

/** tedious calls its connector with ({host, port}, lookup, signal); the typings say no arguments. */
function timedConnector(ctx: ProbeContext) {
  return async (opts?: { host: string; port: number }): Promise<Socket> => {
    const host = opts?.host ?? ctx.settings.host;
    const port = opts?.port ?? ctx.settings.port!;
    ctx.phases.enter('dns');
    const family = isIP(host);
    // node:dns only for a name: an address needs no resolver (and loading one costs start-up time)
    const addresses = family
      ? [{ address: host, family }]
      : await (await import('node:dns/promises')).lookup(domainToASCII(host) || host, { all: true });
    ctx.phases.enter('connect');
    let last: unknown = new Error(`no address for ${host}`);
    for (const a of addresses) {
      try {
        const socket = await connectOne(a.address, a.family, port);
        if (ctx.settings.encrypt === 'strict') ctx.phases.enter('tls');
        return socket;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}

export function tediousConfig(ctx: ProbeContext): ConnectionConfiguration {
  const s = ctx.settings;
  // Generous driver timeouts: the run's own deadline is the one that ends things, and it knows the phase.
  const budget = Math.ceil(Math.max(1000, ctx.remainingMs() + 1000));
  const options: NonNullable<ConnectionConfiguration['options']> = {
    database: 'master', // not the login's default database, which may be the mirror
    appName: s.applicationName,
    encrypt: s.encrypt === 'strict' ? 'strict' : s.encrypt === 'on',
    trustServerCertificate: s.trustServerCertificate,
    connectTimeout: budget,
    requestTimeout: budget,
    cancelTimeout: 1000,
    maxRetriesOnTransientErrors: 0,
    connector: timedConnector(ctx) as unknown as () => Promise<Socket>,
  };
  if (s.instance !== undefined) options.instanceName = s.instance;
  else options.port = s.port;
  if (s.ca !== undefined) options.cryptoCredentialsDetails = { ca: s.ca };
  return {
    server: s.host,
    authentication: s.domain !== undefined
      ? { type: 'ntlm', options: { userName: s.user, password: s.password, domain: s.domain } }
      : { type: 'default', options: { userName: s.user, password: s.password } },
    options,
  };
}

// Socket errors tedious hands a request callback as they came (the connection dropped mid-query).
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN']);

/**
 * A driver error as code + message (the password is scrubbed later, from every output). tedious's
 * own errors keep their code (ELOGIN, ESOCKET, ETDS, …) or become SQL<number>; anything else it
 * threw (a RangeError from parsing, say) means the server's bytes made no sense: PROTOCOL. A bare
 * socket error is the connection lost, as tedious words it when the loss comes outside a request.
 */
export function describeError(err: unknown): ProbeError {
  const e = err as { code?: string; number?: number; message?: string; errors?: unknown[] };
  let message = e?.message ?? String(err);
  // AggregateError from a connector carries the reasons in .errors
  if (Array.isArray(e?.errors) && e.errors.length > 0) {
    message += ': ' + e.errors.map((x) => (x as Error)?.message ?? String(x)).join('; ');
  }
  // OpenSSL's "40ADCA5A6C7F0000:error:0A000410:SSL routines:ssl3_read_bytes:ssl/tls alert handshake failure:../deps/…"
  // (\b: tried once per run of hex digits, not at each of them; a server's 64 KB error message
  // of hex letters would otherwise keep this regex busy for seconds)
  message = message.replace(/\b[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S*/g, 'TLS: $1');
  message = message.replace(/\s+/g, ' ').trim();
  if (err instanceof RequestError && typeof e.number === 'number' && e.number > 0) return { code: `SQL${e.number}`, message };
  if ((err instanceof ConnectionError || err instanceof RequestError) && e.code && e.code !== 'EUNKNOWN') return { code: e.code, message };
  if (err instanceof Error && SOCKET_CODES.has(e.code ?? '')) return { code: 'ESOCKET', message: `Connection lost - ${message}` };
  return { code: 'PROTOCOL', message };
}

export class ProbeFailure extends Error {
  readonly error: ProbeError;
  constructor(error: ProbeError) {
    super(error.message);
    this.error = error;
  }
}

type TlsNegotiation = (prelogin: { encryptionString?: string }, signal: AbortSignal) => Promise<void>;

/**
 * With encrypt: true tedious still logs in without TLS when the server's PRELOGIN answer says it
 * cannot encrypt, so a man in the middle could read the password. --encrypt on must refuse that:
 * the check is put in front of tedious's TLS step. Should a tedious release rename that step,
 * the check refuses to run rather than risk it (a test covers the downgrade).
 */
function refuseCleartextLogin(conn: Connection): ProbeFailure | undefined {
  const target = conn as unknown as { performTlsNegotiation?: TlsNegotiation };
  const negotiate = target.performTlsNegotiation;
  if (typeof negotiate !== 'function') {
    return new ProbeFailure({ code: 'EENCRYPT', message: 'this driver build cannot guarantee an encrypted login; use --encrypt strict' });
  }
  target.performTlsNegotiation = function (prelogin, signal) {
    const answer = prelogin?.encryptionString;
    if (answer !== 'ON' && answer !== 'REQ') {
      return Promise.reject(new ConnectionError(`the server does not encrypt (PRELOGIN encryption ${answer ?? 'missing'}); refusing to log in without TLS (--encrypt on)`, 'EENCRYPT'));
    }
    return negotiate.call(this, prelogin, signal);
  };
  return undefined;
}

// MS-TDS 2.2.3.1.3 (packet header Length) and 2.2.7.9 (ENVCHANGE type 4): a negotiated packet
// size MUST be 512..32767. tedious takes any number; below its 8-byte header its outgoing stream
// writes packets in a loop that never ends (and never yields to the event loop).
export const PACKET_SIZE_MIN = 512;
export const PACKET_SIZE_MAX = 32767;

type EnvChangeToken = { name?: unknown; type?: unknown; newValue?: unknown };

/**
 * What is wrong with an ENVCHANGE the driver would act on, or undefined when it may. The
 * ENVCHANGE types (MS-TDS 2.2.7.9) tedious parses, and what it does with each:
 *   4  PACKET_SIZE     resizes its outgoing packets: checked against 512..32767.
 *   20 ROUTING_CHANGE  reconnects to the host it names and judges that one: refused, always.
 *   8  BEGIN_TXN       keeps the descriptor for the next request's headers: checked to be the
 *                      8 bytes MS-TDS gives it (a session with implicit transactions sends one).
 *   9, 10, 17          commit / rollback / ended: forgets descriptors, nothing taken from the server.
 *   7  SQL_COLLATION   echoed in the TYPE_INFO of the facts query's nvarchar parameters, for
 *                      the server that sent it to judge; nothing is decoded with it (each result
 *                      column carries its own collation).
 *   1, 2, 3, 13, 18    database, language, charset, mirroring partner, reset acknowledgement:
 *                      only emitted as events, which this program does not read.
 * Other types tedious skips by their length (mssql-role-check silences the line it prints).
 */
export function envChangeProblem(token: EnvChangeToken): string | undefined {
  if (token?.name !== 'ENVCHANGE') return undefined;
  switch (token.type) {
    case 'PACKET_SIZE': {
      const n = token.newValue;
      if (typeof n === 'number' && Number.isInteger(n) && n >= PACKET_SIZE_MIN && n <= PACKET_SIZE_MAX) return undefined;
      return `the server negotiated packet size ${String(n)} (MS-TDS allows ${PACKET_SIZE_MIN}..${PACKET_SIZE_MAX})`;
    }
    case 'ROUTING_CHANGE':
      return redirectionReason(token.newValue);
    case 'BEGIN_TXN': {
      const d = token.newValue;
      if (Buffer.isBuffer(d) && d.length === 8) return undefined;
      return `the server began a transaction with a ${Buffer.isBuffer(d) ? `${d.length}-byte` : 'missing'} descriptor (MS-TDS: 8 bytes)`;
    }
    default:
      return undefined;
  }
}

/** A routing ENVCHANGE (MS-TDS 2.2.7.9 type 20): where the server wanted the client to go. */
function redirectionReason(value: unknown): string {
  const v = value as { server?: unknown; port?: unknown } | undefined;
  // the server's own text, without control characters
  const where = typeof v?.server === 'string' ? `${v.server.replace(/\p{C}/gu, '?')} port ${String(v.port)}` : 'another server';
  return `the server redirects the login to ${where} (routing ENVCHANGE); redirection is never followed: check that server directly`;
}

type TokenParserFactory = (message: unknown, handler: object) => unknown;

/**
 * tedious hands every token of a reply to a handler object, which acts on it (resizes packets,
 * stores routing data). Each handler passes through createTokenStreamParser; the check is put in
 * front of the handler there, so that a token outside the specification fails the check before
 * tedious acts on it. Should a tedious release rename that step, the check refuses to run rather
 * than act on whatever a server negotiates (a test covers a packet size of 4 and a redirection).
 */
function refuseOutOfSpecEnvChange(conn: Connection, refuse: (failure: ProbeFailure) => void): ProbeFailure | undefined {
  const target = conn as unknown as { createTokenStreamParser?: TokenParserFactory };
  const create = target.createTokenStreamParser;
  if (typeof create !== 'function') {
    return new ProbeFailure({ code: 'PROTOCOL', message: 'this driver build cannot check what the server negotiates; refusing to run' });
  }
  target.createTokenStreamParser = function (message, handler) {
    const checked = new Proxy(handler, {
      get(h, key, receiver) {
        const member = Reflect.get(h, key, receiver) as unknown;
        if (typeof member !== 'function') return member;
        return function (this: unknown, token: EnvChangeToken, ...rest: unknown[]) {
          const problem = envChangeProblem(token);
          if (problem !== undefined) {
            const failure = new ProbeFailure({ code: 'PROTOCOL', message: problem });
            refuse(failure);
            // thrown into tedious's token loop: the token is not acted on, the reply ends there
            throw failure;
          }
          return (member as (...a: unknown[]) => unknown).call(h, token, ...rest);
        };
      },
    });
    return create.call(this, message, checked);
  };
  // A second line: tedious announces a redirection before it connects to the new host.
  (conn as unknown as NodeJS.EventEmitter).on('rerouting', () => {
    const failure = new ProbeFailure({ code: 'PROTOCOL', message: redirectionReason(undefined) });
    refuse(failure);
    throw failure;
  });
  return undefined;
}

export function openConnection(ctx: ProbeContext): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let conn: Connection;
    try {
      conn = new Connection(tediousConfig(ctx));
    } catch (err) {
      // tedious validates its configuration in the constructor: a value it will not take
      return reject(new ProbeFailure({ code: 'ECONFIG', message: `the driver refused the settings: ${(err as Error).message}` }));
    }
    if (ctx.settings.encrypt === 'on') {
      const refused = refuseCleartextLogin(conn);
      if (refused) return reject(refused);
    }
    // The first refusal wins over whatever error tedious makes of it later.
    let refusal: ProbeFailure | undefined;
    const refusedSpec = refuseOutOfSpecEnvChange(conn, (f) => { refusal ??= f; });
    if (refusedSpec) return reject(refusedSpec);
    conn.on('debug', (msg: string) => {
      const m = /^State change: \S+ -> (\S+)$/.exec(msg);
      if (!m) return;
      if (m[1] === 'Connecting') ctx.phases.enter(ctx.settings.instance !== undefined ? 'browser' : 'dns');
      const phase = STATE_PHASE[m[1]];
      if (phase) ctx.phases.enter(phase);
    });
    // After login, errors arrive here; before it, through connect's callback as well.
    conn.on('error', (err: unknown) => reject(refusal ?? new ProbeFailure(describeError(err))));
    // The build sends no SET-options batch after the login (build/levers.mjs, one-batch): a
    // connection is logged in at LOGINACK, and the facts query is its only request.
    conn.connect((err) => {
      if (refusal) reject(refusal);
      else if (err) reject(new ProbeFailure(describeError(err)));
      else resolve(conn);
    });
  });
}
