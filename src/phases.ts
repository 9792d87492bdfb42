// Where the run is and how long each step took: the timeout message names the current phase,
// --json reports the milliseconds per phase.

/** Milliseconds since the process started (process.uptime needs no module; perf_hooks costs start-up time). */
export const sinceStartMs = (): number => process.uptime() * 1000;

export type Phase =
  | 'start' // process start up to a validated set of options
  | 'maintenance'
  | 'load' // loading the SQL Server driver
  | 'browser' // SQL Server Browser lookup for --instance
  | 'dns'
  | 'connect' // TCP
  | 'tls' // TDS 8.0 (strict): TLS before any TDS
  | 'prelogin' // PRELOGIN, and TLS inside it with --encrypt on
  | 'login' // LOGIN7 up to LOGINACK
  | 'query'
  | 'partner' // --partner: the same probe, against the partner
  | 'verdict';

/** The phases in which the server is being talked to. */
export const NETWORK_PHASES: readonly Phase[] = ['browser', 'dns', 'connect', 'tls', 'prelogin', 'login', 'query', 'partner'];

export class PhaseClock {
  current: Phase = 'start';
  #marks: Array<{ phase: Phase; at: number }> = [{ phase: 'start', at: 0 }];

  enter(phase: Phase): void {
    if (phase === this.current) return;
    this.#marks.push({ phase, at: sinceStartMs() });
    this.current = phase;
  }

  /** Milliseconds per phase (a phase entered twice adds up), and the total since process start. */
  timings(): Record<string, number> {
    const now = sinceStartMs();
    const out: Record<string, number> = {};
    this.#marks.forEach((m, i) => {
      const end = i + 1 < this.#marks.length ? this.#marks[i + 1].at : now;
      out[m.phase] = (out[m.phase] ?? 0) + (end - m.at);
    });
    for (const k of Object.keys(out)) out[k] = Math.round(out[k] * 10) / 10;
    out.total = Math.round(now * 10) / 10;
    return out;
  }
}
