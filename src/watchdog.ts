// The deadline that holds whatever the main thread does. The main thread's own timer ends an
// ordinary timeout, with the usual report; it cannot fire while JavaScript never yields (a driver
// looping on what a server sent) or while the main thread waits in a system call (a hung NFS
// stat, a write to a full blocking pipe), and process.exit itself waits for libuv's thread pool
// (a getaddrinfo or stat stuck there). Two helpers hold the deadline then:
//   the killer, a /bin/sh child armed as soon as the deadline is known: at deadline + KILL_AFTER_MS it sends
//     the process SIGKILL, a death no caller reads as a pass. It costs a fork and an exec; a
//     worker thread started as early would cost ~10 times more CPU and ~13 MB (make bench: rows
//     (g) and (h), bench/LEVERS.md).
//   the interrupter, a worker thread started only when a run is still going at INTERRUPTER_AT
//     (healthy checks are long done): at deadline + INTERRUPT_AFTER_MS it interrupts the main
//     thread through the inspector, whose requests run as V8 interrupts that a busy loop honours,
//     and so the run ends with its usual timeout report and exit 1 instead of the SIGKILL.
// The main thread claims the exit before it writes its last output; once claimed, the interrupter
// no longer interrupts. A normal exit stops the worker (Atomics.wait gives way at once) and the
// killer.
import type { ChildProcess } from 'node:child_process';

/** Past the deadline: the main thread's own timer has had its chance. */
export const INTERRUPT_AFTER_MS = 100;
/** Past the deadline: the last resort, and so the most a run can take past its deadline. */
export const KILL_AFTER_MS = 500;
/** When (ms since start, at most half the timeout) a run still going gets the interrupter. */
export const INTERRUPTER_AT_MS = 1000;

/** The global the interrupter calls (through the inspector, by name). */
export const ON_DEADLINE = Symbol.for('mssql-role-check.deadline');

// The killer: sleeps, then kills its parent, if that is still its parent (once the check has
// exited, the orphan's parent is another process, which is left alone).
// Each step only after the one before succeeded: a sleep that cannot run (HAProxy runs external
// checks with an empty PATH by default) must never kill the check at once.
const KILLER = 'sleep "$1" && read -r _ _ _ ppid _ </proc/$$/stat && [ "$ppid" = "$2" ] && kill -9 "$2"';

export interface Killer {
  /** Ends the killer (a run that exits by itself). */
  disarm(): void;
}

/** Arms the killer for deadline + KILL_AFTER_MS (ms since start); undefined if it cannot start. */
export function armKiller(deadlineMs: number, sinceStartMs: number): Killer | undefined {
  let child: ChildProcess;
  try {
    const seconds = (Math.max(0, deadlineMs + KILL_AFTER_MS - sinceStartMs) / 1000).toFixed(3);
    const { spawn } = process.getBuiltinModule('node:child_process'); // loaded only for a check
    // its own process group: disarm() ends the shell and its sleep together
    child = spawn('/bin/sh', ['-c', KILLER, 'mssql-role-check', seconds, String(process.pid)],
      { stdio: 'ignore', detached: true, env: { PATH: '/usr/bin:/bin' } });
    child.on('error', () => {}); // no /bin/sh: the interrupter still holds the deadline
    child.unref();
  } catch {
    return undefined;
  }
  return {
    disarm: () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

const ARMED = 0;
const FIRED = 1;
const EXITING = 2;

// Shared memory: Int32 [0] state, [1] generation (bumped when the deadline moves); Float64 at
// byte 8: the deadline in process.hrtime milliseconds (one monotonic clock for every thread).
// The worker loads the inspector before it sleeps, so that firing is quick even where starting a
// module is slow (qemu). Its own SIGKILL is the killer's, for a run whose killer could not start.
const INTERRUPTER = `'use strict';
(() => {
  let Session;
  try {
    Session = require('node:inspector').Session;
  } catch {
    // a Node without the inspector: the SIGKILL below still holds the deadline
  }
  const sab = require('node:worker_threads').workerData;
  const cell = new Int32Array(sab, 0, 2);
  const deadline = new Float64Array(sab, 8, 1);
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const sleepUntil = (past) => {
    for (;;) {
      const generation = Atomics.load(cell, 1);
      const left = deadline[0] + past - now();
      if (left <= 0) return;
      Atomics.wait(cell, 1, generation, left);
    }
  };
  sleepUntil(${INTERRUPT_AFTER_MS});
  if (Session && Atomics.compareExchange(cell, 0, ${ARMED}, ${FIRED}) === ${ARMED}) {
    const session = new Session();
    session.connectToMainThread();
    session.post('Runtime.evaluate', { expression: 'globalThis[Symbol.for("mssql-role-check.deadline")]()' });
  }
  sleepUntil(${KILL_AFTER_MS});
  process.kill(process.pid, 'SIGKILL');
})();
`;

export interface Interrupter {
  /** Moves the deadline (milliseconds since the process started). */
  setDeadline(deadlineMs: number, sinceStartMs: number): void;
  /** True when the main thread may end the run itself; false once the interrupt is on its way. */
  claimExit(): boolean;
  /** The interrupt was sent: an inspector session is (or is being) connected to the main thread. */
  fired(): boolean;
}

const hrtimeMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Starts the interrupter's worker; undefined when no thread can be started. */
export function startInterrupter(deadlineMs: number, sinceStartMs: number): Interrupter | undefined {
  const sab = new SharedArrayBuffer(16);
  const cell = new Int32Array(sab, 0, 2);
  const deadline = new Float64Array(sab, 8, 1);
  const setDeadline = (at: number, now: number) => {
    deadline[0] = hrtimeMs() + (at - now);
    Atomics.add(cell, 1, 1);
    Atomics.notify(cell, 1);
  };
  setDeadline(deadlineMs, sinceStartMs);
  try {
    const { Worker } = process.getBuiltinModule('node:worker_threads'); // loaded only for a slow run
    const worker = new Worker(INTERRUPTER, { eval: true, workerData: sab });
    worker.unref();
    worker.on('error', () => {}); // a thread that could not start: the killer still holds
  } catch {
    return undefined;
  }
  return {
    setDeadline,
    claimExit: () => {
      const was = Atomics.compareExchange(cell, 0, ARMED, EXITING);
      return was === ARMED || was === EXITING;
    },
    fired: () => Atomics.load(cell, 0) === FIRED,
  };
}
