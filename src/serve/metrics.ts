// GET /metrics: Prometheus text exposition from a Registry of the daemon's own (never prom-client's
// global one). Gauges that depend on the facts' age are computed when scraped, from the same
// answer() the HTTP checks use; counters and the histogram are fed by the poll loops.
import { readdirSync } from 'node:fs';
import { Registry, Gauge, Counter, Histogram } from 'prom-client';
import { answer, factsSince } from './state.ts';
import type { Answer, Ask } from './state.ts';
import { ROLES } from './config.ts';
import type { Poller } from './poller.ts';

export interface Metrics {
  registry: Registry;
  polled(p: Poller, ms: number, errorCode: string | null): void;
  reconnect(p: Poller): void;
  roleChanged(p: Poller, database: string): void;
  /** a target left the config: its series go */
  forget(name: string): void;
  text(): Promise<string>;
}

export function createMetrics(pollers: () => Iterable<Poller>, judge: (p: Poller, ask: Ask, nowMs: number) => Answer = (p, ask, now) => answer(p.target, ask, now, p.config.maxAgeMs)): Metrics {
  const registry = new Registry();
  processMetrics(registry);
  const up = new Gauge({
    name: 'mssql_role_check_up', help: '1 when the latest poll of the target gave fresh facts of the database, else 0',
    labelNames: ['target', 'database'], registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const p of pollers()) {
        const snap = p.target.snapshot;
        const since = factsSince(snap);
        const fresh = snap.facts !== null && since !== null && now - since <= p.config.maxAgeMs;
        for (const d of p.config.settings.databases) {
          this.set({ target: p.target.name, database: d }, fresh && snap.facts!.some((f) => f.requested === d) ? 1 : 0);
        }
      }
    },
  });
  const role = new Gauge({
    name: 'mssql_role_check_role', help: '1 when the database passes the role on this target now (the verdict of GET /TARGET/ROLE), else 0',
    labelNames: ['target', 'database', 'role'], registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const p of pollers()) {
        for (const d of p.config.settings.databases) {
          for (const r of ROLES) {
            const a = judge(p, { ...p.config.asks[r], databases: [d] }, now);
            this.set({ target: p.target.name, database: d, role: r }, a.status === 200 ? 1 : 0);
          }
        }
      }
    },
  });
  const drained = new Gauge({
    name: 'mssql_role_check_maintenance', help: '1 while the target is drained by its maintenance file',
    labelNames: ['target'], registers: [registry],
    collect() {
      this.reset();
      for (const p of pollers()) this.set({ target: p.target.name }, p.target.snapshot.maintenance === null ? 0 : 1);
    },
  });
  const duration = new Histogram({
    name: 'mssql_role_check_poll_duration_seconds', help: 'time of one poll of the target (query, and login when it reconnected)',
    labelNames: ['target'], registers: [registry], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const lastSuccess = new Gauge({
    name: 'mssql_role_check_last_success_timestamp_seconds', help: 'when the latest poll of the target that gave facts completed (seconds since the epoch)',
    labelNames: ['target'], registers: [registry],
  });
  const changes = new Counter({
    name: 'mssql_role_check_role_changes_total', help: 'changes of the database\'s verdict under the target\'s configured role',
    labelNames: ['target', 'database'], registers: [registry],
  });
  const reconnects = new Counter({
    name: 'mssql_role_check_reconnects_total', help: 'connection attempts after the first (each one a login)',
    labelNames: ['target'], registers: [registry],
  });
  const errors = new Counter({
    name: 'mssql_role_check_errors_total', help: 'polls that gave no facts, by error code (TIMEOUT, ESOCKET, ELOGIN, PROTOCOL, SQL<number>, ...)',
    labelNames: ['target', 'code'], registers: [registry],
  });
  void up; void role; void drained;
  // the label values each target has used, so that a target that leaves the config takes its series along
  const seen = { changes: new Map<string, Set<string>>(), errors: new Map<string, Set<string>>() };
  const note = (m: Map<string, Set<string>>, target: string, v: string) => m.set(target, (m.get(target) ?? new Set()).add(v));
  return {
    registry,
    polled(p, ms, code) {
      duration.observe({ target: p.target.name }, ms / 1000);
      if (code === null) lastSuccess.set({ target: p.target.name }, Date.now() / 1000);
      else {
        errors.inc({ target: p.target.name, code });
        note(seen.errors, p.target.name, code);
      }
    },
    reconnect(p) {
      reconnects.inc({ target: p.target.name });
    },
    roleChanged(p, database) {
      changes.inc({ target: p.target.name, database });
      note(seen.changes, p.target.name, database);
    },
    forget(name) {
      for (const m of [duration, lastSuccess, reconnects]) m.remove({ target: name });
      for (const database of seen.changes.get(name) ?? []) changes.remove({ target: name, database });
      for (const code of seen.errors.get(name) ?? []) errors.remove({ target: name, code });
      seen.changes.delete(name);
      seen.errors.delete(name);
    },
    text: () => registry.metrics(),
  };
}

/**
 * The process's own figures, under the names Prometheus's client libraries use. prom-client's
 * default set is not taken: three of its gauges end in _total, which promtool's lint refuses.
 */
function processMetrics(registry: Registry): void {
  const started = Date.now() / 1000 - process.uptime();
  new Gauge({ name: 'process_resident_memory_bytes', help: 'resident memory size in bytes', registers: [registry],
    collect() { this.set(process.memoryUsage.rss()); } });
  new Gauge({ name: 'process_heap_bytes', help: 'V8 heap in use, in bytes', registers: [registry],
    collect() { this.set(process.memoryUsage().heapUsed); } });
  new Gauge({ name: 'process_start_time_seconds', help: 'start time of the process since the epoch, in seconds', registers: [registry],
    collect() { this.set(started); } });
  new Gauge({ name: 'process_open_fds', help: 'open file descriptors', registers: [registry],
    collect() { try { this.set(readdirSync('/proc/self/fd').length); } catch { this.set(-1); } } });
  new Counter({ name: 'process_cpu_seconds_total', help: 'user and system CPU time spent, in seconds', registers: [registry],
    collect() { const u = process.cpuUsage(); this.reset(); this.inc((u.user + u.system) / 1e6); } });
}
