// Connect and log in: one tedious connection (no pool: a pool would log in twice and send a
// validation query). Names are resolved (resolve.ts) and a named instance's port asked
// (browser.ts) before the driver starts; its connector dials the addresses (dial.ts); the later
// steps are timed from tedious's state changes.
import { Connection, ConnectionError, RequestError } from 'tedious';
import type { ConnectionConfiguration } from 'tedious';
import type { Socket } from 'node:net';
import type { ProbeContext, ProbeError } from './types.ts';
import { ProbeFailure } from './types.ts';
import { explainTlsVersion, explainUntrusted, tlsCredentials } from './tls.ts';
import { resolveHost } from './resolve.ts';
import type { Address } from './resolve.ts';
import { dial, DialError } from './dial.ts';
import { instancePort } from './browser.ts';
import type { Phase } from '../phases.ts';

// tedious's state names → our phases.
const STATE_PHASE: Record<string, Phase> = {
  SentPrelogin: 'prelogin',
  SentTLSSSLNegotiation: 'prelogin',
  SentLogin7WithStandardLogin: 'login',
  SentLogin7WithNTLMLogin: 'login',
  SentClientRequest: 'query',
};

/** What the connector dials: the host's addresses, resolved before the driver starts. */
interface Target {
  host: string;
  addresses: Address[];
  port: number;
}

/** The run's own wording for its deadline, so that a timer of ours and main.ts's read the same. */
const timeoutText = (ctx: ProbeContext) => () => `timeout after ${ctx.settings.timeoutMs / 1000}s during ${ctx.phases.current}`;

/** tedious calls its connector with ({host, port}, lookup, signal); the typings say no arguments. */
function timedConnector(ctx: ProbeContext, target: Target) {
  return async (opts?: { host: string; port: number }, _lookup?: unknown, signal?: AbortSignal): Promise<Socket> => {
    const host = opts?.host ?? target.host;
    const port = opts?.port ?? target.port;
    // Another host only if the driver was sent elsewhere: resolved like the first.
    const addresses = host === target.host ? target.addresses : await resolve(ctx, host);
    ctx.phases.enter('connect');
    try {
      const socket = await dial(addresses, port, ctx.remainingMs, { signal });
      if (ctx.settings.encrypt === 'strict') ctx.phases.enter('tls');
      return socket;
    } catch (err) {
      if (err instanceof DialError && err.timedOut) throw new ProbeFailure({ code: 'TIMEOUT', message: timeoutText(ctx)() });
      throw err;
    }
  };
}

/** The addresses of `host` (phase dns), or the reason there are none. */
async function resolve(ctx: ProbeContext, host: string): Promise<Address[]> {
  ctx.phases.enter('dns');
  return resolveHost(host, ctx.remainingMs, timeoutText(ctx));
}

export function tediousConfig(ctx: ProbeContext, target: Target): ConnectionConfiguration {
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
    connector: timedConnector(ctx, target) as unknown as () => Promise<Socket>,
    // the port, never instanceName: the Browser is asked before the driver starts (browser.ts)
    port: target.port,
  };
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
  // what our connector threw (the deadline), wrapped by the driver
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof ProbeFailure) return cause.error;
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
  message = explainUntrusted(explainTlsVersion(message.replace(/\s+/g, ' ').trim()));
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

export { ProbeFailure };

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
      return Promise.reject(new ConnectionError(`the server does not encrypt (PRELOGIN encryption ${answer ?? 'missing'}); refusing to log in without TLS (--encrypt on, the default)`, 'EENCRYPT'));
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

/** The host's addresses (phase dns), the instance's port from the Browser (phase browser), then the login. */
export async function openConnection(ctx: ProbeContext): Promise<Connection> {
  const s = ctx.settings;
  const addresses = await resolve(ctx, s.host);
  let port = s.port!;
  if (s.instance !== undefined) {
    ctx.phases.enter('browser');
    port = await instancePort(s.host, addresses, s.instance, ctx.remainingMs, timeoutText(ctx));
  }
  return logIn(ctx, { host: s.host, addresses, port });
}

function logIn(ctx: ProbeContext, target: Target): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let conn: Connection;
    try {
      conn = new Connection(tediousConfig(ctx, target));
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
