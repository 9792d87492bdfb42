// The daemon's state: the config in force, a poll loop per target, the listener and the metrics.
// A reload reads the config anew: refused whole if bad (the old one keeps serving, as
// blackbox_exporter's ReloadConfig does); a target whose settings changed gets a new loop (and
// connection), an unchanged one keeps its own.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readServeConfig } from './config.ts';
import type { ServeConfig, TargetConfig } from './config.ts';
import { Poller } from './poller.ts';
import type { PollEvents } from './poller.ts';
import { listen } from './http.ts';
import type { Routes } from './http.ts';
import { createMetrics } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { target as serverName } from '../output.ts';
import { probeReason } from '../run.ts';
import { scrub } from '../output.ts';
import type { IncomingMessage } from 'node:http';
import { Extras } from './extras.ts';

export interface DaemonOptions {
  configPath: string;
  verbose: boolean;
  /** one line to stderr (scrubbed here of every password) */
  write: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** paths the core does not answer (#15: /, /targets, /group/...) */
  extra?: Routes['extra'];
}

/** What makes a target's loop worth keeping across a reload: everything it polls with. */
function sameTarget(a: TargetConfig, b: TargetConfig): boolean {
  const key = (t: TargetConfig) => JSON.stringify({ s: { ...t.settings, logFd: undefined }, i: t.intervalMs, m: t.maxAgeMs });
  return key(a) === key(b);
}

export class Daemon {
  config: ServeConfig;
  readonly pollers = new Map<string, Poller>();
  readonly metrics: Metrics;
  /** groups, agent-check, probe ports, the status page */
  readonly extras: Extras;
  private server: Server | undefined;
  private readonly opts: DaemonOptions;
  private readonly events: PollEvents;

  private constructor(config: ServeConfig, opts: DaemonOptions) {
    this.config = config;
    this.opts = opts;
    this.metrics = createMetrics(() => this.pollers.values(), (p, ask, now) => this.extras.judge(p, ask, now));
    this.extras = new Extras({ pollers: () => this.pollers, config: () => this.config, log: (l) => this.log(l), registry: this.metrics.registry });
    this.events = {
      polled: (p, ms, error) => {
        this.metrics.polled(p, ms, error?.code ?? null);
        if (opts.verbose) {
          const snap = p.target.snapshot;
          const what = error ? `no facts (${error.code}): ${probeReason(error, p.config.settings)}` : `facts of ${snap.facts?.length ?? 0} database(s)`;
          this.log(`${p.target.name}: poll ${Math.round(ms)} ms: ${what}${snap.maintenance ? `; ${snap.maintenance}` : ''}`);
        }
      },
      reconnect: (p, why) => {
        if (why.startsWith('attempt')) this.metrics.reconnect(p);
        this.log(`${p.target.name}: ${why.startsWith('attempt') ? `reconnecting to ${serverName(p.config.settings)} (${why})` : why}`);
      },
      judge: (p, ask, now) => this.extras.judge(p, ask, now),
      published: (p) => this.extras.polled(p.target.name),
      verdictChanged: (p, database, from, to, reason, code) => {
        if (from !== 'unknown' && from !== to) this.metrics.roleChanged(p, database);
        this.log(`${p.target.name}: database ${JSON.stringify(database)} as ${p.config.settings.role}: ${from} -> ${to}${code ? ` (${code})` : ''}: ${reason}`);
      },
    };
  }

  /** Read the config, bind the listener, start every loop. Throws a UsageError for a bad config, an Error when the address cannot be bound. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(readServeConfig(opts.configPath, opts.env), opts);
    d.server = await d.bind(d.config);
    try {
      await d.extras.start();
    } catch (err) {
      d.stop();
      throw err;
    }
    for (const t of d.config.targets) d.startLoop(t);
    const a = d.address();
    d.log(`listening on ${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}, ${d.config.targets.length} target(s): ${d.config.targets.map((t) => `${t.name} (${serverName(t.settings)})`).join(', ')}`);
    return d;
  }

  address(): { host: string; port: number } {
    const a = this.server!.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  log(line: string): void {
    const clean = this.config.secrets.reduce((t, pw) => scrub(t, pw), line).replace(/[\r\n]+/g, ' ');
    this.opts.write(`mssql-role-check serve: ${clean}`);
  }

  private bind(c: ServeConfig): Promise<Server> {
    const routes: Routes = {
      pollers: () => this.pollers,
      secrets: () => this.config.secrets,
      metrics: () => this.metrics.text(),
      health: (now) => {
        const late = [...this.pollers.values()].filter((p) => p.lastTickAt === null ? false : now - p.lastTickAt > p.config.maxAgeMs + p.config.settings.timeoutMs)
          .map((p) => p.target.name);
        // before its first tick ends a loop is alive if it is within its first deadline
        const notYet = [...this.pollers.values()].filter((p) => p.lastTickAt === null && now - p.startedAt > p.config.maxAgeMs + p.config.settings.timeoutMs).map((p) => p.target.name);
        return { ok: late.length + notYet.length === 0, late: [...late, ...notYet] };
      },
      extra: (req: IncomingMessage, path, query) => this.extras.route(req, path, query) ?? this.opts.extra?.(req, path, query),
      judge: (p, ask, now) => this.extras.judge(p, ask, now),
    };
    return listen(routes, c.listen.host, c.listen.port, (line) => this.log(line));
  }

  private startLoop(t: TargetConfig): void {
    const p = new Poller(t, this.events);
    this.pollers.set(t.name, p);
    p.start();
  }

  /** SIGHUP: the new config, or one line saying why the old one keeps serving. */
  async reload(): Promise<boolean> {
    let next: ServeConfig;
    try {
      next = readServeConfig(this.opts.configPath, this.opts.env);
    } catch (err) {
      this.log(`reload refused, the running config stays: ${(err as Error).message}`);
      return false;
    }
    const old = this.config;
    if (next.listen.host !== old.listen.host || next.listen.port !== old.listen.port) {
      let server: Server;
      try {
        server = await this.bind(next);
      } catch (err) {
        this.log(`reload refused, the running config stays: listen ${next.listen.host}:${next.listen.port}: ${(err as Error).message}`);
        return false;
      }
      const before = this.server!;
      this.server = server;
      before.close();
      before.closeAllConnections();
    }
    // the old passwords stay secrets: what is kept from before (the page's history) may quote them
    this.config = { ...next, secrets: [...new Set([...old.secrets, ...next.secrets])] };
    const kept: string[] = [];
    const restarted: string[] = [];
    for (const [name, p] of this.pollers) {
      const t = next.targets.find((x) => x.name === name);
      if (t && sameTarget(t, p.config)) {
        kept.push(name);
        continue;
      }
      p.stop();
      this.pollers.delete(name);
      this.metrics.forget(name);
      if (t) restarted.push(name);
    }
    for (const t of next.targets) if (!this.pollers.has(t.name)) this.startLoop(t);
    const added = next.targets.filter((t) => !kept.includes(t.name) && !restarted.includes(t.name)).map((t) => t.name);
    const removed = old.targets.filter((t) => !next.targets.some((x) => x.name === t.name)).map((t) => t.name);
    await this.extras.reloaded();
    this.log(`reloaded ${this.opts.configPath}: kept ${kept.join(', ') || 'none'}; reconnecting ${restarted.join(', ') || 'none'}; added ${added.join(', ') || 'none'}; removed ${removed.join(', ') || 'none'}`);
    return true;
  }

  /** Close the listener and every connection. */
  stop(): void {
    this.server?.close();
    this.server?.closeAllConnections();
    for (const p of this.pollers.values()) p.stop();
    this.extras.stop();
  }
}
