// Connect and log in: one tedious connection (no pool: a pool would log in twice and send a
// validation query), with DNS and TCP timed by our own connector and the later steps timed from
// tedious's state changes.
import { Connection, ConnectionError, RequestError } from 'tedious';
import type { ConnectionConfiguration } from 'tedious';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { domainToASCII } from 'node:url';
import type { ProbeContext, ProbeError } from './types.ts';
import { explainTlsVersion, tlsCredentials } from './tls.ts';
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
  const credentials = tlsCredentials(s);
  if (credentials) options.cryptoCredentialsDetails = credentials;
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
  message = message.replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S*/g, 'TLS: $1');
  message = explainTlsVersion(message.replace(/\s+/g, ' ').trim());
  if (err instanceof RequestError && typeof e.number === 'number' && e.number > 0) return { code: `SQL${e.number}`, message };
  // Several SQL errors for one request (e.g. Msg 300 then 297) arrive as an AggregateError of them.
  const first = Array.isArray(e?.errors) ? (e.errors[0] as { number?: unknown } | undefined) : undefined;
  if (first instanceof RequestError && typeof first.number === 'number' && first.number > 0 && e.errors!.every((x) => x instanceof RequestError)) {
    return { code: `SQL${first.number}`, message: e.errors!.map((x) => (x as Error).message).join(' ') };
  }
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
    conn.on('debug', (msg: string) => {
      const m = /^State change: \S+ -> (\S+)$/.exec(msg);
      if (!m) return;
      if (m[1] === 'Connecting') ctx.phases.enter(ctx.settings.instance !== undefined ? 'browser' : 'dns');
      const phase = STATE_PHASE[m[1]];
      if (phase) ctx.phases.enter(phase);
    });
    // After login, errors arrive here; before it, through connect's callback as well.
    conn.on('error', (err: unknown) => reject(new ProbeFailure(describeError(err))));
    // The build sends no SET-options batch after the login (build/levers.mjs, one-batch): a
    // connection is logged in at LOGINACK, and the facts query is its only request.
    conn.connect((err) => (err ? reject(new ProbeFailure(describeError(err))) : resolve(conn)));
  });
}
