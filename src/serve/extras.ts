// What the daemon adds over a check per process (#15), wired to its poll loops: the group rule on
// every answer, the agent-check listener, the probe ports, the split-brain log and metrics, the
// status page and its history. Each part's rule is in its own file (groups.ts, agent.ts,
// probe-ports.ts, page.ts); this one reads the daemon's state and calls them.
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:net';
import { Gauge, Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { UsageError } from '../errors.ts';
import { target as serverName, scrub } from '../output.ts';
import type { Role } from '../settings.ts';
import { parseListen, ROLES } from './config.ts';
import type { ServeConfig, ServeEntry } from './config.ts';
import type { Poller } from './poller.ts';
import { paramValues, ROLE_ALIASES } from './http.ts';
import type { Answer, Ask, Target } from './state.ts';
import { factsSince } from './state.ts';
import { groupAnswer, groupHolder, splitBrains, splitBrainReason, SplitBrainWatch } from './groups.ts';
import type { View } from './groups.ts';
import { agentServer } from './agent.ts';
import type { AgentRequest, AgentResolution } from './agent.ts';
import { ProbePorts, parseProbePort } from './probe-ports.ts';
import type { ProbePort } from './probe-ports.ts';
import { History, renderPage, roleShown } from './page.ts';
import type { PageData, VerdictLabel } from './page.ts';
import { askFor } from './config.ts';

/** What the extras read of the daemon. */
export interface Host {
  pollers(): ReadonlyMap<string, Poller>;
  config(): ServeConfig;
  log(line: string): void;
  registry: Registry;
}

/**
 * Besides after each poll, the full sweep (probe ports, history, split brains) runs when some
 * target's facts grow older than its max-age, the only change time alone makes; and at least this
 * often, should the wall clock be stepped.
 */
export const SWEEP_MS = 5000;
export const PAGE_REFRESH_SECONDS = 5;

const entry = (c: ServeConfig, scope: string, name: string): ServeEntry | undefined => c.serveValues.get(scope)?.get(name);

/** The probe port of each target that has one. */
export function probePortsOf(c: ServeConfig): ProbePort[] {
  const out: ProbePort[] = [];
  for (const t of c.targets) {
    const e = entry(c, t.name, 'probe-port');
    if (!e) continue;
    const p = parseProbePort(e.value, c.listen.host);
    if ('error' in p) throw new UsageError(`${c.path} line ${e.line}: probe-port: ${p.error}`);
    const r = entry(c, t.name, 'probe-role') ?? c.serveDefaults.get('probe-role');
    const role = r ? ROLE_ALIASES[r.value.toLowerCase()] : 'primary';
    if (!role) throw new UsageError(`${c.path} line ${r!.line}: probe-role: expected one of ${ROLES.join(', ')}, not ${JSON.stringify(r!.value)}`);
    out.push({ target: t.name, ...p, role });
  }
  return out;
}

export function agentListenOf(c: ServeConfig): { host: string; port: number } | null {
  const e = c.serveDefaults.get('agent-listen');
  return e ? parseListen(e.value, `${c.path} line ${e.line}: agent-listen`) : null;
}

/** The serve config's #15 names, judged whole (config.ts calls it): every problem names its line. */
export function checkExtras(c: ServeConfig): void {
  const agent = agentListenOf(c);
  const taken = new Map<string, string>([[`${c.listen.host}:${c.listen.port}`, 'listen']]);
  if (agent) {
    const k = `${agent.host}:${agent.port}`;
    if (agent.port !== 0 && taken.has(k)) throw new UsageError(`${c.path} line ${c.serveDefaults.get('agent-listen')!.line}: agent-listen: ${k} is also listen`);
    taken.set(k, 'agent-listen');
  }
  for (const p of probePortsOf(c)) {
    const k = `${p.host}:${p.port}`;
    const line = entry(c, p.target, 'probe-port')!.line;
    if (taken.has(k)) throw new UsageError(`${c.path} line ${line}: probe-port: ${k} is also ${taken.get(k)}`);
    taken.set(k, `the probe port of ${p.target}`);
  }
  for (const t of c.targets) {
    const r = entry(c, t.name, 'probe-role');
    if (r && !entry(c, t.name, 'probe-port')) throw new UsageError(`${c.path} line ${r.line}: probe-role without a probe-port in [${t.name}]`);
  }
}

const label = (a: Answer): VerdictLabel =>
  a.status === 200 ? 'pass' : a.status === 404 ? 'drained' : a.errorCode === 'NOFACTS' || a.errorCode === 'STALE' || a.verdict === null ? 'unknown' : 'fail';

export class Extras {
  private readonly host: Host;
  private agent: { server: Server; host: string; port: number } | null = null;
  private readonly probes: ProbePorts;
  private readonly watch = new SplitBrainWatch();
  readonly history = new History(100);
  private readonly labels = new Map<string, VerdictLabel>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(host: Host) {
    this.host = host;
    this.probes = new ProbePorts((l) => host.log(l));
    const watch = this.watch;
    new Gauge({
      name: 'mssql_role_check_split_brain', help: '1 while two or more members of the group claim the role for the database (every claimant fails)',
      labelNames: ['group', 'role', 'database'], registers: [host.registry],
      collect() {
        this.reset();
        for (const s of watch.active) this.set({ group: s.group, role: s.role, database: s.database }, 1);
      },
    });
    new Counter({
      name: 'mssql_role_check_split_brains_total', help: 'split brains begun in the group for the role and database',
      labelNames: ['group', 'role', 'database'], registers: [host.registry],
      collect() {
        this.reset();
        for (const s of watch.started.values()) this.inc({ group: s.group, role: s.role, database: s.database }, s.count);
      },
    });
  }

  view(): View {
    const pollers = this.host.pollers();
    return {
      targets: new Map([...pollers].map(([n, p]) => [n, p.target])),
      groups: this.host.config().groups,
      maxAgeMs: (t: Target) => pollers.get(t.name)?.config.maxAgeMs ?? 0,
    };
  }

  /** Every answer of the daemon: the group rule over state.ts answer(). */
  judge(p: Poller, ask: Ask, nowMs: number, view = this.view()): Answer {
    return groupAnswer(view, p.target.name, ask, nowMs);
  }

  async start(): Promise<void> {
    await this.bindAgent(this.host.config());
    this.sweep();
  }

  /** After a reload: the agent listener moves if agent-listen changed (or stays, logged, if it cannot). */
  async reloaded(): Promise<void> {
    const want = agentListenOf(this.host.config());
    const have = this.agent;
    if (want?.host !== have?.host || (want?.port !== have?.port && want?.port !== 0)) {
      try {
        const old = this.agent;
        this.agent = null;
        await this.bindAgent(this.host.config());
        old?.server.close();
      } catch (err) {
        this.host.log(`agent-listen: cannot listen on ${want?.host}:${want?.port}: ${(err as Error).message}; the agent stays where it was`);
        this.agent = have;
      }
    }
    this.forgetGone();
    this.sweep();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.agent?.server.close();
    void this.probes.close();
  }

  agentAddress(): { host: string; port: number } | null {
    return this.agent && { host: this.agent.host, port: this.agent.port };
  }

  private async bindAgent(c: ServeConfig): Promise<void> {
    const a = agentListenOf(c);
    if (!a) return;
    const server = agentServer((req) => this.agentResolve(req));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: a.host, port: a.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.host.log(`agent listener: ${err.message}`));
        resolve();
      });
    });
    const port = (server.address() as { port: number }).port;
    this.agent = { server, host: a.host, port };
    this.host.log(`agent-check at ${a.host.includes(':') ? `[${a.host}]` : a.host}:${port}`);
  }

  private agentResolve(req: AgentRequest): AgentResolution {
    const p = this.host.pollers().get(req.target);
    if (!p) return { error: `unknown target ${JSON.stringify(req.target.slice(0, 64))}` };
    const role = ROLE_ALIASES[req.role.toLowerCase()];
    if (!role) return { error: `unknown role ${JSON.stringify(req.role.slice(0, 16))} (primary, principal, secondary, mirror, online)` };
    let ask: Ask;
    try {
      ask = req.params.size === 0 ? p.config.asks[role] : askFor(p.config, role, paramValues(req.params, p));
    } catch (err) {
      if (err instanceof UsageError) return { error: err.message };
      throw err;
    }
    const now = Date.now();
    const view = this.view();
    const answer = this.judge(p, ask, now, view);
    const clean = (a: Answer): Answer => ({ ...a, reason: this.host.config().secrets.reduce((r, pw) => scrub(r, pw), a.reason) });
    if (answer.status !== 404) return { answer: clean(answer), weight: p.config.settings.weight };
    // drained: how it would answer without the maintenance file, for "up drain" or "down drain"
    const undrained = new Map(view.targets);
    undrained.set(p.target.name, { ...p.target, snapshot: { ...p.target.snapshot, maintenance: null } });
    const u = groupAnswer({ ...view, targets: undrained }, p.target.name, ask, now);
    return { answer: clean(answer), undrained: clean(u), weight: p.config.settings.weight };
  }

  /** After a poll of one target: only what it can change (itself and the members of its groups). */
  polled(name: string): void {
    const groups = this.host.config().groups.filter((g) => g.members.includes(name));
    this.sweep(Date.now(), new Set([name, ...groups.flatMap((g) => g.members)]));
  }

  /**
   * Probe ports, split brains, history, from the latest snapshots: of every target (the timer's
   * sweep, which also sees facts grow old), or of `only` (after a poll; a full sweep of 50 targets
   * in 25 groups costs about 0.5 ms).
   */
  sweep(now = Date.now(), only?: Set<string>): void {
    const c = this.host.config();
    const pollers = this.host.pollers();
    const view = this.view();
    const judged = (name: string) => !only || only.has(name);
    // history: each database under the target's own role and options
    for (const p of pollers.values()) {
      if (!judged(p.target.name)) continue;
      for (const d of p.config.settings.databases) {
        const a = this.judge(p, { ...p.config.asks[p.config.settings.role], databases: [d] }, now, view);
        const to = label(a);
        const k = `${p.target.name}\0${d}`;
        const from = this.labels.get(k);
        if (from !== to && !(from === undefined && to === 'unknown')) {
          this.history.add({ at: now, target: p.target.name, database: d, from: from ?? 'unknown', to, reason: a.reason });
        }
        this.labels.set(k, to);
      }
    }
    // split brains: one line per change (those of untouched groups as they were)
    const found = c.groups.flatMap((g) => (g.members.some(judged) ? splitBrains(view, g, now) : this.watch.active.filter((s) => s.group === g.name)));
    for (const line of this.watch.update(found)) this.host.log(line);
    // probe ports
    let specs: ProbePort[] = [];
    try {
      specs = probePortsOf(c);
    } catch {
      specs = []; // checkExtras refused such a config before it could run
    }
    this.probes.set(specs.flatMap((spec) => {
      const p = pollers.get(spec.target);
      if (!p) return [];
      const key = `${spec.target}\0${spec.role}`;
      let v = this.probeVerdicts.get(key);
      if (!v || judged(spec.target)) {
        const a = this.judge(p, p.config.asks[spec.role], now, view);
        v = { pass: a.pass, reason: a.reason };
        this.probeVerdicts.set(key, v);
      }
      return [{ spec, ...v }];
    }));
    this.schedule(now);
  }

  /** The next full sweep: when the first facts now fresh grow too old (SWEEP_MS at most). */
  private schedule(now: number): void {
    if (this.stopped) return;
    let due = now + SWEEP_MS;
    for (const p of this.host.pollers().values()) {
      const since = factsSince(p.target.snapshot);
      if (p.target.snapshot.facts === null || since === null) continue;
      const stale = since + p.config.maxAgeMs + 1;
      if (stale > now && stale < due) due = stale;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; this.sweep(); }, due - now);
    this.timer.unref();
  }

  private readonly probeVerdicts = new Map<string, { pass: boolean; reason: string }>();

  private forgetGone(): void {
    const names = new Set(this.host.config().targets.map((t) => t.name));
    this.history.forget((t) => names.has(t));
    for (const k of this.labels.keys()) if (!names.has(k.split('\0')[0])) this.labels.delete(k);
  }

  pageData(now = Date.now()): PageData {
    const c = this.host.config();
    const view = this.view();
    const rows = [...this.host.pollers().values()].flatMap((p) => p.config.settings.databases.map((d) => {
      const role = p.config.settings.role;
      const a = this.judge(p, { ...p.config.asks[role], databases: [d] }, now, view);
      const snap = p.target.snapshot;
      const since = factsSince(snap);
      const fresh = since !== null && now - since <= p.config.maxAgeMs ? snap.facts : null;
      return {
        target: p.target.name, server: serverName(p.config.settings), database: d, asked: role,
        role: roleShown(fresh?.find((f) => f.requested === d)), verdict: label(a), status: a.status, reason: a.reason,
        ageSeconds: a.ageSeconds, lastChange: this.history.lastOf(p.target.name, d),
      };
    }));
    const groups = c.groups.map((g) => {
      const h = groupHolder(view, g, now);
      return { name: g.name, members: g.members, primary: h.holder, reason: h.reason };
    });
    const probes = (() => {
      try {
        return probePortsOf(c).map((p) => ({ target: p.target, address: p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`, role: p.role, open: this.probes.isOpen(p) }));
      } catch {
        return [];
      }
    })();
    return {
      generatedAt: new Date(now).toISOString(), refreshSeconds: PAGE_REFRESH_SECONDS, rows, groups,
      splitBrains: this.watch.active.map((s) => `group ${s.group}: ${splitBrainReason(s.members, s.role, s.database)}`),
      probePorts: probes, changes: this.history.list(),
    };
  }

  /** GET /, /targets, /?format=json, /group/NAME/primary; undefined for any other path. */
  route(_req: IncomingMessage, path: string, query: URLSearchParams): { status: number; body: unknown; type?: string } | undefined {
    if (path === '/' || path === '/targets') {
      const format = query.get('format');
      for (const k of query.keys()) if (k !== 'format') return { status: 400, body: { error: `unknown parameter ${JSON.stringify(k.slice(0, 40))} (known: format)` } };
      if (format !== null && format !== 'json' && format !== 'html') return { status: 400, body: { error: 'format is json or html' } };
      const data = this.pageData();
      if (path === '/targets' || format === 'json') return { status: 200, body: data };
      return { status: 200, body: renderPage(data), type: 'text/html; charset=utf-8' };
    }
    const m = /^\/group\/([A-Za-z0-9_.-]{1,64})\/([A-Za-z]{1,16})\/?$/.exec(path);
    if (!m) return undefined;
    const g = this.host.config().groups.find((x) => x.name === m[1]);
    const role = ROLE_ALIASES[m[2].toLowerCase()] as Role | undefined;
    if (!g) {
      // as for an unknown target (http.ts): 503, not the 404 that disable-on-404 reads as "drained"
      if (role) return { status: 503, body: { error: `no such group ${JSON.stringify(m[1])} in this config` } };
      return { status: 404, body: { error: `no such group ${JSON.stringify(m[1])} or role ${JSON.stringify(m[2])}` } };
    }
    if (role !== 'primary' && role !== 'mirror') return { status: 400, body: { error: 'a group is asked for its primary or its mirror: /group/NAME/primary' } };
    if (query.size > 0) return { status: 400, body: { error: 'GET /group/NAME/ROLE takes no parameter' } };
    const h = groupHolder(this.view(), g, Date.now(), role);
    return { status: h.holder ? 200 : 503, body: { group: h.group, role: h.role, [role]: h.holder, reason: h.reason, members: h.members } };
  }
}
