// The contract of the probers: each takes the context of the run and returns what it saw.
import type { Settings } from '../settings.ts';
import type { PhaseClock } from '../phases.ts';
import type { DatabaseFacts } from '../facts.ts';

export interface ProbeContext {
  settings: Settings;
  phases: PhaseClock;
  /** milliseconds left before the run's hard deadline (the run exits by itself then) */
  remainingMs: () => number;
}

/** Why no facts could be had: a tedious error code (ELOGIN, ESOCKET, …), SQL<number>, or PROTOCOL. */
export interface ProbeError {
  code: string;
  message: string;
}

export type ProbeResult =
  | { ok: true; facts: DatabaseFacts[] }
  | { ok: false; error: ProbeError };

/** A probe step that could not get its facts: the run reports `error` (connection.ts re-exports it). */
export class ProbeFailure extends Error {
  readonly error: ProbeError;
  constructor(error: ProbeError) {
    super(error.message);
    this.error = error;
  }
}
