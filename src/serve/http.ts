// The HTTP endpoints, in Patroni's style: GET|HEAD|OPTIONS /TARGET/ROLE answers 200 (pass),
// 503 (fail, or facts unknown or older than max-age), 404 (drained by the maintenance file), 400
// (unknown role or bad parameter); GET /TARGET all roles; GET /health; GET /metrics. Every
// answer is made from memory (the poll loops' snapshots): a request never reaches a server.
// The listener bounds what a client may hold: header size and count, header, request and idle
// timeouts, connections.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { answer, factsSince } from './state.ts';
import type { Answer, Ask } from './state.ts';
import { askFor, ROLES } from './config.ts';
import type { Role } from '../settings.ts';
import type { Given } from '../options.ts';
import type { OptionName } from '../cli-spec.ts';
import { ROLE_WORDS, ROLE_ALIASES as ROLE_WORDS_ALIASES } from '../cli-spec.ts';
import { UsageError } from '../errors.ts';
import { reportFields, scrub, scrubDeep } from '../output.ts';
import type { Outcome } from '../output.ts';
import { exitCodeFor } from '../run.ts';
import type { Poller } from './poller.ts';

export const LIMITS = {
  maxHeaderSize: 8 * 1024,
  maxHeadersCount: 32,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 512,
  maxRequestsPerSocket: 1000,
  /** the longest request line path + query accepted */
  maxUrl: 2048,
};

/** What the handler reads: the live targets (replaced whole on reload), the secrets to scrub, /metrics. */
export interface Routes {
  pollers(): ReadonlyMap<string, Poller>;
  secrets(): string[];
  metrics(): Promise<string>;
  /** /health: every loop alive and ticked within its max-age */
  health(nowMs: number): { ok: boolean; late: string[] };
  /** a path the core does not know (/, /targets, /group/..., for the extras); undefined: 404 */
  extra?(req: IncomingMessage, path: string, query: URLSearchParams): { status: number; body: unknown; type?: string } | undefined;
  /** the answer to a request (extras.ts: the group rule over state.ts answer()); default answer() */
  judge?(p: Poller, ask: Ask, nowMs: number): Answer;
}

/** --role's words (cli-spec.ts), each to the role it names: the path's role is read as the option's. */
// (no prototype: "/sql1/constructor" must be an unknown role, not Object's own property)
export const ROLE_ALIASES: Record<string, Role | undefined> = Object.assign(Object.create(null),
  Object.fromEntries(ROLE_WORDS.map((w) => [w, w in ROLE_WORDS_ALIASES ? ROLE_WORDS_ALIASES[w as keyof typeof ROLE_WORDS_ALIASES] : w])));
/** every method every path answers */
const ALLOW = 'GET, HEAD, OPTIONS';
const PARAMS: readonly OptionName[] = ['max-lag', 'mirroring-state', 'database'];
const TARGET_PATH = /^\/([A-Za-z0-9_.-]{1,64})(?:\/([A-Za-z]{1,16}))?\/?$/;

/** The request's role options as one-shot values ("?max-lag" as their origin), or a 400's reason. */
export function paramValues(query: URLSearchParams, p: Poller): Map<OptionName, Given[]> {
  const given = new Map<OptionName, Given[]>();
  for (const key of new Set(query.keys()) as Set<OptionName>) {
    if (!PARAMS.includes(key)) throw new UsageError(`unknown parameter ${JSON.stringify(key.slice(0, 40))} (known: ${PARAMS.join(', ')})`);
    const all = query.getAll(key);
    if (key === 'max-lag' && all.length > 1) throw new UsageError('?max-lag is given more than once');
    given.set(key, all.map((value) => ({ value, origin: `?${key}` })));
  }
  for (const g of given.get('database') ?? []) {
    if (!p.config.settings.databases.includes(g.value)) {
      throw new UsageError(`?database: ${JSON.stringify(g.value.slice(0, 128))} is not polled for target ${p.target.name} (its databases: ${p.config.settings.databases.join(', ')})`);
    }
  }
  return given;
}

/** The one-shot's --json object for an answer, with the facts' age and the target's name (send() scrubs it). */
function body(p: Poller, ask: Ask, a: Answer): Record<string, unknown> {
  const s = { ...p.config.settings, role: ask.role };
  const o: Outcome = {
    pass: a.pass, exitCode: exitCodeFor(a.pass, s.weight), reason: a.reason, errorCode: a.errorCode,
    phase: a.pass ? null : a.errorCode === 'ROLE' ? 'verdict' : a.errorCode === 'MAINTENANCE' ? 'maintenance' : 'poll',
    databases: ask.databases.map((name, i) => {
      const d = a.verdict?.databases[i];
      return { name, pass: d?.pass ?? false, reason: d?.reason ?? a.reason, facts: a.facts?.[i] };
    }),
    timings: {},
  };
  const { timings: _, ...json } = reportFields(o, s);
  return { target: p.target.name, status: a.status, ...json, ageSeconds: a.ageSeconds };
}

function send(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, secrets: string[], type = 'application/json'): void {
  const text = value === undefined ? '' : typeof value === 'string' ? secrets.reduce((t, pw) => scrub(t, pw), value) : JSON.stringify(scrubDeep(value, secrets)) + '\n';
  const withBody = req.method === 'GET';
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'Content-Length': withBody ? Buffer.byteLength(text) : 0,
    // OPTIONS says what the resource takes (RFC 9110 9.3.7), with the status a GET would have (HAProxy's httpchk asks OPTIONS)
    ...(req.method === 'OPTIONS' && { Allow: ALLOW }),
  });
  res.end(withBody ? text : undefined);
}

function handle(routes: Routes, req: IncomingMessage, res: ServerResponse): void {
  const secrets = routes.secrets();
  // the body, if any, is not read: drained, up to the request timeout
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
    res.setHeader('Allow', ALLOW); // a 405 must carry it (RFC 9110 15.5.6)
    return send(req, res, 405, { error: 'only GET, HEAD and OPTIONS' }, secrets);
  }
  const url = req.url ?? '';
  if (url.length > LIMITS.maxUrl || !url.startsWith('/')) return send(req, res, 400, { error: 'bad request target' }, secrets);
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  } catch {
    return send(req, res, 400, { error: 'bad query string' }, secrets);
  }
  if (path === '/health') {
    const h = routes.health(Date.now());
    return send(req, res, h.ok ? 200 : 503, { status: h.ok ? 'ok' : 'late', late: h.late }, secrets);
  }
  if (path === '/metrics') {
    routes.metrics().then((text) => send(req, res, 200, text, secrets, 'text/plain; version=0.0.4; charset=utf-8'),
      () => send(req, res, 500, { error: 'metrics unavailable' }, secrets));
    return;
  }
  const m = TARGET_PATH.exec(path);
  const p = m ? routes.pollers().get(m[1]) : undefined;
  if (!m || !p) {
    const extra = routes.extra?.(req, path, query);
    if (extra) return send(req, res, extra.status, extra.body, secrets, extra.type);
    // a role asked of a target this config does not have: 503, not 404, which HAProxy's
    // disable-on-404 reads as "drained" and would still send persistent connections to
    if (m?.[2] !== undefined && ROLE_ALIASES[m[2].toLowerCase()]) return send(req, res, 503, { error: `no such target ${JSON.stringify(m[1])} in this config` }, secrets);
    return send(req, res, 404, { error: 'no such target or endpoint' }, secrets);
  }
  const now = Date.now();
  const judge = (ask: Ask) => (routes.judge ? routes.judge(p, ask, now) : answer(p.target, ask, now, p.config.maxAgeMs));
  if (m[2] === undefined) {
    if (query.size > 0) return send(req, res, 400, { error: 'GET /TARGET takes no parameter (ask /TARGET/ROLE)' }, secrets);
    const snap = p.target.snapshot;
    const roles = Object.fromEntries(ROLES.map((r) => {
      const a = judge(p.config.asks[r]);
      return [r, { status: a.status, pass: a.pass, reason: a.reason, errorCode: a.errorCode }];
    }));
    const s = p.config.settings;
    return send(req, res, 200, {
      target: p.target.name, server: { host: s.host, port: s.port ?? null, instance: s.instance ?? null }, role: s.role, databases: s.databases,
      ageSeconds: factsSince(snap) === null ? null : Math.max(0, (now - factsSince(snap)!) / 1000), maintenance: snap.maintenance, error: snap.error,
      roles, facts: snap.facts,
    }, secrets);
  }
  const role = ROLE_ALIASES[m[2].toLowerCase()];
  if (!role) return send(req, res, 400, { error: `unknown role ${JSON.stringify(m[2])} (primary, principal, secondary, mirror, online)` }, secrets);
  let ask: Ask;
  try {
    ask = query.size === 0 ? p.config.asks[role] : askFor(p.config, role, paramValues(query, p));
  } catch (err) {
    if (err instanceof UsageError) return send(req, res, 400, { error: err.message }, secrets);
    throw err;
  }
  const a = judge(ask);
  send(req, res, a.status, body(p, ask, a), secrets);
}

/** The listener, bound; rejects when the address cannot be bound. */
export function listen(routes: Routes, host: string, port: number, onError: (line: string) => void): Promise<Server> {
  const server = createServer({
    maxHeaderSize: LIMITS.maxHeaderSize,
    headersTimeout: LIMITS.headersTimeoutMs,
    requestTimeout: LIMITS.requestTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
    // how often the header and request timeouts are enforced (Node's default: every 30 s)
    connectionsCheckingInterval: 500,
    requireHostHeader: false,
  }, (req, res) => {
    try {
      handle(routes, req, res);
    } catch (err) {
      onError(`internal error answering a request: ${String((err as Error)?.message ?? err).split('\n', 1)[0]}`);
      if (!res.headersSent) send(req, res, 500, { error: 'internal error' }, routes.secrets());
      else res.destroy();
    }
  });
  server.maxHeadersCount = LIMITS.maxHeadersCount;
  server.maxConnections = LIMITS.maxConnections;
  server.maxRequestsPerSocket = LIMITS.maxRequestsPerSocket;
  // a malformed request, oversized headers, a header or request timeout: Node's own clientError
  // handling answers 400, 431 or 408 and closes the socket
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', (err) => onError(`listener: ${(err as Error).message}`));
      resolve(server);
    });
  });
}
