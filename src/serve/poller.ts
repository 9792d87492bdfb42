// The poll loop of one target: one persistent connection (the one-shot's openConnection, with
// every guard of it), the facts query every `interval`, each poll under the target's timeout.
// A poll that fails or times out leaves the snapshot without facts at once; a lost connection
// too, without waiting for the next poll. Reconnects back off from 0.5 s, doubling to 30 s, and
// start again from 0.5 s after a poll that succeeds: after a failed login, and as well after a
// connection dropped (a poll timed out or failed) or lost, so a server that takes logins and then
// stalls every query is not logged in to every interval. The loop ticks every interval whatever
// happens (a tick while backing off completes at once with the last error), so /health can tell
// a loop that is alive from one that is stuck.
// tedious directly, not mssql's ConnectionPool: the pool would bypass openConnection's guards
// (resolver, Browser, TLS and ENVCHANGE checks), and against sqlsim a ConnectionPool (max 1)
// logged in twice, on two TCP connections, before its first query was answered (connect()
// validates with a connection of its own), where a session logs in once.
import { stat } from 'node:fs/promises';
import { AsyncLocalStorage } from 'node:async_hooks';
import { openSession, ProbeFailure } from '../prober/index.ts';
import type { Session, ProbeError } from '../prober/index.ts';
import { PhaseClock } from '../phases.ts';
import { maintenanceFrom } from '../run.ts';
import { answer, defaultAsk } from './state.ts';
import type { Target, Snapshot, Answer, Ask } from './state.ts';
import type { TargetConfig } from './config.ts';

// Every callback of a target's loop, its driver's included, runs with its Poller in this store
// (tick() runs under it; timers and sockets made there keep it): an exception nobody caught can be
// told apart by the target whose driver threw it (index.ts). The daemon's own callbacks run
// outside it (events below), so that a bug of theirs is not taken for a server's fault.
const owner = new AsyncLocalStorage<Poller>();

/** The target loop in whose callbacks the code running now was started, if any. */
export function pollerOfContext(): Poller | undefined {
  return owner.getStore();
}

const outside = <T>(f: () => T): T => owner.exit(f);

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 30_000;
/** the longest a poll waits for the maintenance file's stat (a hung FUSE or NFS mount must not hold it) */
export const MAINTENANCE_STAT_MS = 1000;

/** A database's verdict under the target's own role, as the log and the metrics name it. */
export type VerdictLabel = 'unknown' | 'pass' | 'fail' | 'drained';

export interface PollEvents {
  /** every completed poll: how long it took, and why it gave no facts (null on success) */
  polled(p: Poller, ms: number, error: ProbeError | null): void;
  /** a connection attempt after the first (login = false), or a lost connection (why) */
  reconnect(p: Poller, why: string): void;
  /** a database's verdict under the target's role changed */
  verdictChanged(p: Poller, database: string, from: VerdictLabel, to: VerdictLabel, reason: string, errorCode: string | null): void;
  /** a new snapshot of the target (a poll, or a connection lost) */
  published?(p: Poller): void;
  /** the answer to an ask (extras.ts: the group rule); default state.ts answer() */
  judge?(p: Poller, ask: Ask, nowMs: number): Answer;
}

export class Poller {
  readonly target: Target;
  readonly config: TargetConfig;
  /** successful logins, the first included */
  logins = 0;
  /** when the latest tick ended (ms since the epoch) */
  lastTickAt: number | null = null;
  /** when start() was called */
  startedAt = 0;
  /** a poll is talking to the server now */
  inFlight = false;
  private readonly events: PollEvents;
  private session: Session | undefined;
  private lastConnectError: ProbeError | undefined;
  private backoffMs = BACKOFF_FIRST_MS;
  private nextAttemptAt = 0;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private abortPoll: ((e: ProbeFailure) => void) | undefined;
  private statPending: Promise<string | null> | undefined;
  private statSince = 0;
  private readonly verdicts = new Map<string, VerdictLabel>();
  /** which poll is under way: a login that completes after its poll ended sees another number */
  private pollSeq = 0;
  /** when the latest facts query was sent */
  private askedAt = 0;
  /** connections lost by themselves so far */
  private losses = 0;

  constructor(config: TargetConfig, events: PollEvents) {
    this.config = config;
    this.events = events;
    this.target = { name: config.name, settings: config.settings, snapshot: { facts: null, at: null, error: null, maintenance: null } };
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setTimeout(() => owner.run(this, () => void this.tick()), 0);
  }

  /** No more polls; the connection is closed. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abortPoll?.(new ProbeFailure({ code: 'STOPPED', message: 'the target was stopped' }));
    this.session?.close();
    this.session = undefined;
  }

  /** a stat of the maintenance file has not returned (it holds a thread of libuv's pool, and so process.exit) */
  get statHeld(): boolean {
    return this.statPending !== undefined;
  }

  /**
   * An exception the driver threw where nobody catches it (an event handler of its own), in this
   * loop's context: the poll under way fails with it; between polls the connection is dropped, the
   * facts go (503) and the next poll reconnects, after the backoff. Says which it was.
   */
  driverFault(error: ProbeError): 'poll' | 'idle' | 'stopped' {
    if (this.stopped) return 'stopped';
    if (this.abortPoll) {
      this.abortPoll(new ProbeFailure(error));
      return 'poll';
    }
    this.dropSession(error);
    this.losses++;
    if (this.target.snapshot.facts !== null) {
      this.publish({ facts: null, at: Date.now(), error, maintenance: this.target.snapshot.maintenance });
    }
    return 'idle';
  }

  private publish(snapshot: Snapshot): void {
    outside(() => this.publishNow(snapshot));
  }

  private publishNow(snapshot: Snapshot): void {
    this.target.snapshot = snapshot;
    const now = Date.now();
    const own = defaultAsk(this.config.settings);
    for (const database of this.config.settings.databases) {
      const ask = { ...own, databases: [database] };
      const a = this.events.judge ? this.events.judge(this, ask, now) : answer(this.target, ask, now, this.config.maxAgeMs);
      const to: VerdictLabel = a.status === 200 ? 'pass' : a.status === 404 ? 'drained' : 'fail';
      const from = this.verdicts.get(database) ?? 'unknown';
      const key = `${to} ${a.errorCode}`;
      if (from !== to || this.verdictKeys.get(database) !== key) {
        this.events.verdictChanged(this, database, from, to, a.reason, a.errorCode);
      }
      this.verdicts.set(database, to);
      this.verdictKeys.set(database, key);
    }
    this.events.published?.(this);
  }

  private readonly verdictKeys = new Map<string, string>();

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const s = this.config.settings;
    const deadline = started + s.timeoutMs;
    const maintenance = this.maintenance();
    let drain: { reason: string | null } | undefined;
    void maintenance.then((reason) => { drain = { reason }; });
    let facts: Snapshot['facts'] = null;
    let error: ProbeError | null = null;
    try {
      facts = await this.withDeadline(deadline, (clock) => this.poll(clock, deadline));
      this.backoffMs = BACKOFF_FIRST_MS;
    } catch (err) {
      error = err instanceof ProbeFailure ? err.error : { code: 'INTERNAL', message: String(err) };
    }
    if (this.stopped) return;
    const found = { facts, at: Date.now(), error, ...(facts !== null && { asked: this.askedAt }) };
    if (drain) this.publish({ ...found, maintenance: drain.reason });
    else {
      // The stat has not answered (it may take MAINTENANCE_STAT_MS): what the poll found replaces
      // the facts before it at once, under the file's last reason, then the stat's reason follows.
      if (this.target.snapshot.at !== null) this.publish({ ...found, maintenance: this.target.snapshot.maintenance });
      const losses = this.losses;
      const reason = await maintenance;
      if (this.stopped) return;
      // (the snapshot as it is now: a connection lost meanwhile has taken its facts away)
      if (this.target.snapshot.at === null) this.publish({ ...found, ...(losses !== this.losses && { facts: null, error: this.lastConnectError ?? null }), maintenance: reason });
      else if (reason !== this.target.snapshot.maintenance) this.publish({ ...this.target.snapshot, maintenance: reason });
    }
    this.lastTickAt = Date.now();
    outside(() => this.events.polled(this, this.lastTickAt! - started, error));
    this.timer = setTimeout(() => void this.tick(), Math.max(0, started + this.config.intervalMs - Date.now()));
  }

  /** Runs one poll, ended by the deadline (a stalled connection is closed: the next poll reconnects). */
  private withDeadline<T>(deadline: number, run: (clock: PhaseClock) => Promise<T>): Promise<T> {
    const clock = new PhaseClock();
    this.inFlight = true;
    const seq = ++this.pollSeq;
    return new Promise<T>((resolve, reject) => {
      const current = () => seq === this.pollSeq;
      const end = (e: ProbeFailure) => {
        if (!current()) return;
        this.pollSeq++; // what this poll still does later changes nothing
        this.abortPoll = undefined;
        this.inFlight = false;
        clearTimeout(timer);
        this.dropSession(e.error);
        reject(e);
      };
      this.abortPoll = end;
      const timer = setTimeout(() => end(new ProbeFailure({ code: 'TIMEOUT', message: `timeout after ${this.config.settings.timeoutMs / 1000}s during ${clock.current}` })),
        Math.max(0, deadline - Date.now()));
      run(clock).then((value) => {
        if (!current()) return;
        clearTimeout(timer);
        this.abortPoll = undefined;
        this.inFlight = false;
        resolve(value);
      }, (err: unknown) => {
        if (!current()) return;
        clearTimeout(timer);
        this.abortPoll = undefined;
        this.inFlight = false;
        // a failed query on a connection that stays usable (an SQL error) keeps it; anything else reconnects
        const code = err instanceof ProbeFailure ? err.error.code : '';
        if (!/^SQL\d+$/.test(code)) this.dropSession(err instanceof ProbeFailure ? err.error : { code: 'INTERNAL', message: String(err) });
        reject(err);
      });
    });
  }

  /** The poll failed (`why`): the connection, if any, is closed, and the next one waits for the backoff. */
  private dropSession(why: ProbeError): void {
    this.lastConnectError = why;
    if (!this.session) return;
    this.session.close();
    this.session = undefined;
    this.backOff();
  }

  /** The next connection attempt after the backoff, which doubles for the one after. */
  private backOff(): void {
    this.nextAttemptAt = Date.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
  }

  private async poll(clock: PhaseClock, deadline: number) {
    if (!this.session?.open) {
      this.session = undefined;
      const now = Date.now();
      if (now < this.nextAttemptAt && this.lastConnectError) {
        const wait = ((this.nextAttemptAt - now) / 1000).toFixed(1);
        throw new ProbeFailure({ code: this.lastConnectError.code, message: `${this.lastConnectError.message} (not connected; next attempt in ${wait} s)` });
      }
      this.session = await this.connect(clock, deadline);
    }
    clock.enter('query');
    this.askedAt = Date.now();
    return this.session.facts(this.config.settings.databases);
  }

  private async connect(clock: PhaseClock, deadline: number): Promise<Session> {
    if (this.attempts++ > 0) outside(() => this.events.reconnect(this, `attempt ${this.attempts}`));
    const ctx = { settings: this.config.settings, phases: clock, remainingMs: () => deadline - Date.now() };
    const seq = this.pollSeq;
    let session: Session | undefined;
    try {
      session = await openSession(ctx, (e) => this.lost(session, e));
    } catch (err) {
      this.lastConnectError = err instanceof ProbeFailure ? err.error : { code: 'INTERNAL', message: String(err) };
      this.backOff();
      throw err;
    }
    // The deadline (or stop) ended this poll while it logged in: that connection is not kept.
    if (this.stopped || seq !== this.pollSeq) {
      session.close();
      // (a login slower than the deadline waits for the backoff as a failed one does)
      if (!this.stopped) this.backOff();
      throw new ProbeFailure({ code: 'STOPPED', message: 'the poll ended before the login completed' });
    }
    this.logins++;
    this.lastConnectError = undefined;
    return session;
  }

  /** The connection ended by itself: no facts from now on, and the next poll reconnects. */
  private lost(session: Session | undefined, e: ProbeError): void {
    if (this.stopped || session === undefined || session !== this.session) return;
    this.session = undefined;
    this.losses++;
    this.lastConnectError = e;
    this.backOff();
    outside(() => this.events.reconnect(this, `connection lost: ${e.message}`));
    if (this.target.snapshot.facts !== null) {
      this.publish({ facts: null, at: Date.now(), error: e, maintenance: this.target.snapshot.maintenance });
    }
  }

  /** The maintenance file's reason, from a stat that never holds the loop: one stat at a time, waited for at most MAINTENANCE_STAT_MS (not at all while an earlier one is held). */
  private maintenance(): Promise<string | null> {
    const path = this.config.settings.maintenanceFile;
    if (path === undefined) return Promise.resolve(null);
    const held = () => `maintenance file ${path} cannot be checked (stat has not answered for ${((Date.now() - this.statSince) / 1000).toFixed(1)} s)`;
    // still waiting for an earlier poll's stat: no second one, and no wait
    if (this.statPending) return Promise.resolve(held());
    this.statSince = Date.now();
    const pending = stat(path).then(() => maintenanceFrom(path, null), (err: unknown) => maintenanceFrom(path, err));
    this.statPending = pending;
    void pending.finally(() => { if (this.statPending === pending) this.statPending = undefined; });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(held()), MAINTENANCE_STAT_MS);
      void pending.then((r) => { clearTimeout(timer); resolve(r); });
    });
  }
}
