// The simulated SQL Servers the peer, fault and fuzz tests check: scenario files, the check binary
// run against a simulator, and the simulator's CLI run as a separate process (inside a network
// namespace when keepalived needs it there).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN_X64, NODE } from '../helpers/paths.ts';
import type { Scenario } from '../sqlsim/types.ts';
import { Daemon, run, waitUntil, type RunResult } from './harness.ts';

export const SCENARIOS = join(ROOT, 'test/sqlsim/scenarios');
export const SIM_CLI = join(ROOT, 'test/sqlsim/cli.ts');
export const DATABASE = 'appdb';
export const LOGIN = 'monitor';

export function loadScenario(name: 'principal' | 'mirror'): Scenario {
  return JSON.parse(readFileSync(join(SCENARIOS, `${name}.json`), 'utf8')) as Scenario;
}

/** A scenario with the login and database the README and the example config name (lbcheck, AppDb). */
export function asDocumented(s: Scenario): Scenario {
  const text = JSON.stringify(s).replaceAll(`"name":"${LOGIN}"`, '"name":"lbcheck"').replaceAll(`"name":"${DATABASE}"`, '"name":"AppDb"');
  return JSON.parse(text) as Scenario;
}

/** The monitoring login's password, from the scenario (the binary gets it through MSSQL_PASSWORD). */
export function passwordOf(s: Scenario, login = LOGIN): string {
  const l = s.logins.find((x) => x.name === login);
  if (!l) throw new Error(`scenario ${s.server.name} has no login ${login}`);
  return l.password;
}

export interface CheckRun extends RunResult {
  json?: Record<string, unknown>;
}

/** Run the check binary once against host:port with --json; the password travels in the environment. */
export async function runCheck(opts: {
  host: string; port: number; password: string; timeoutS: number; limitMs?: number;
  bin?: string; extra?: string[]; via?: string[]; onSpawn?: Parameters<typeof run>[2]['onSpawn'];
}): Promise<CheckRun> {
  // --encrypt off unless the caller gives one: these simulators have no certificate
  const encrypt = opts.extra?.includes('--encrypt') ? [] : ['--encrypt', 'off'];
  const args = ['--host', opts.host, '--port', String(opts.port), '--database', DATABASE, '--user', LOGIN,
    '--timeout', String(opts.timeoutS), '--json', ...encrypt, ...(opts.extra ?? [])];
  const bin = opts.bin ?? BIN_X64;
  const [cmd, ...pre] = opts.via ? [...opts.via, bin] : [bin];
  const r: CheckRun = await run(cmd, [...pre, ...args], {
    env: { PATH: '/usr/bin:/bin', MSSQL_PASSWORD: opts.password },
    limitMs: opts.limitMs ?? opts.timeoutS * 1000 + 10_000,
    onSpawn: opts.onSpawn,
  });
  try {
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (line.startsWith('{')) r.json = JSON.parse(line) as Record<string, unknown>;
  } catch { /* left undefined: the caller asserts on it */ }
  return r;
}

/**
 * A simulator CLI process (optionally inside a network namespace) controlled through its stdin:
 * one server, or a mirrored pair (`partner`) that the `failover` command swaps.
 */
export class SimProcess {
  readonly daemon: Daemon;
  /** host:port of each server, in the order a, b */
  readonly listening: { host: string; port: number }[] = [];

  private constructor(daemon: Daemon) { this.daemon = daemon; }

  static async start(opts: { scenario: string; host: string; port: number; partner?: { scenario: string; port: number };
    netns?: string; name: string }): Promise<SimProcess> {
    const cli = [NODE, SIM_CLI, '--scenario', opts.scenario, '--host', opts.host, '--port', String(opts.port), '--control', 'stdin'];
    if (opts.partner) cli.push('--partner-scenario', opts.partner.scenario, '--partner-port', String(opts.partner.port));
    const [cmd, ...args] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...cli] : cli;
    const sim = new SimProcess(new Daemon(opts.name, cmd, args, { PATH: process.env.PATH }));
    const want = opts.partner ? 2 : 1;
    await waitUntil(`${opts.name} to listen`, () => {
      if (!sim.daemon.running) throw new Error(`${opts.name} exited:\n${sim.daemon.tail()}`);
      return [...sim.daemon.output.matchAll(/^listening (\S+):(\d+)$/gm)].length >= want;
    }, 20_000, 25);
    for (const m of sim.daemon.output.matchAll(/^listening (\S+):(\d+)$/gm)) sim.listening.push({ host: m[1], port: Number(m[2]) });
    return sim;
  }

  /** Send one control command and wait for its answer line ("ok…" or "error…"). */
  async control(command: string): Promise<string> {
    const from = this.daemon.output.length;
    this.daemon.write(command + '\n');
    const m = await this.daemon.waitForOutput(/^(ok|error)\b.*$/m, 5_000, from);
    if (m[1] === 'error') throw new Error(`${this.daemon.name}: "${command}" → ${m[0]}`);
    return m[0];
  }

  stop(): Promise<void> { return this.daemon.stop(); }
}
