// Scenarios only a real server in a container can produce, run by test/docker/run.ts after the
// shared list (test/scenarios/cases.ts) on the same stacks: suspended data movement, a replica
// whose partner is gone, a login without VIEW SERVER STATE, OFFLINE and READ_ONLY databases, and a
// caught-up secondary under --max-lag. Each check is asserted on the check's --json facts, not
// only on its exit code, and each step that changes a server is undone when the scenario ends.
//
// What a real server does here, from Microsoft Learn:
// - "ALTER DATABASE SET HADR": SUSPEND on a secondary replica suspends only the local secondary
//   database, which is then NOT SYNCHRONIZING; suspending a secondary "does not directly affect
//   the availability of the primary database".
// - "sys.dm_hadr_database_replica_states": is_suspended 0 = resumed, 1 = suspended; on 2022 the
//   view needs VIEW SERVER PERFORMANCE STATE (implied by VIEW SERVER STATE); without it the server
//   raises Msg 300 / 297 ("Database Engine events and errors (0 to 999)").
// - "sys.dm_hadr_availability_replica_states": role_desc RESOLVING | PRIMARY | SECONDARY,
//   connected_state_desc CONNECTED | DISCONNECTED.
// - On a secondary's own (is_local = 1) row secondary_lag_seconds is NULL (it is filled on the
//   primary's rows for its remote secondaries), so --max-lag on a secondary is judged from that
//   row's redo_queue_size / redo_rate (the estimated recovery time of Microsoft's availability
//   group dashboard): a caught-up secondary passes. The reason may word it as it likes; the facts
//   must show a SECONDARY that runs.
import type { Credentials, LoginKind, ServerRole, Topology, TopologyKind } from '../scenarios/cases.ts';
import { reasons, runCheck } from '../scenarios/run.ts';
import type { CheckRun } from '../scenarios/run.ts';

/** The logins of test/scenarios/cases.ts, and monitor_nostate: VIEW ANY DATABASE only (scripts/lib.sh). */
export type DockerLogin = LoginKind | 'monitor_nostate';

type Facts = Record<string, unknown>;

export interface FactsCheck {
  server: ServerRole;
  argv: string[];
  /** --partner: the other server of the topology */
  partner?: ServerRole;
  /** default: monitor */
  login?: DockerLogin;
  exit: number;
  /** must match everything the check said about why (its reason, error code, each database's reason) */
  reason?: RegExp;
  /** the first database's --json facts must have these values */
  facts?: Facts;
  /** further conditions on the first database's facts (null when the check reported none) */
  expect?: { what: string; holds: (facts: Facts | null) => boolean }[];
}

export type Action =
  | { do: 'db-state'; server: ServerRole; database: string; state: 'OFFLINE' | 'ONLINE' | 'READ_ONLY' | 'READ_WRITE' }
  | { do: 'hadr'; server: ServerRole; database: string; op: 'SUSPEND' | 'RESUME' }
  /** stop or start the server's container (docker compose stop / start); start waits until the AG is whole */
  | { do: 'stop' | 'start'; server: ServerRole };

export type DockerStep = { check: FactsCheck } | { act: Action };

export interface DockerScenario {
  name: string;
  topology: TopologyKind;
  steps: DockerStep[];
}

/** A running topology that can also act on its servers; close() undoes what act() did. */
export interface DockerTopology extends Topology {
  readonly extraLogins: Record<'monitor_nostate', Credentials>;
  act(action: Action): Promise<void>;
}

const check = (c: FactsCheck): DockerStep => ({ check: c });
const act = (a: Action): DockerStep => ({ act: a });
const running = { role_desc: 'SECONDARY', is_suspended: false };

export const DOCKER_SCENARIOS: readonly DockerScenario[] = [
  {
    name: 'ag (docker): a secondary whose data movement is suspended fails --role secondary; the primary still passes; resumed, it passes again',
    topology: 'ag',
    steps: [
      check({ server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 0, facts: running }),
      act({ do: 'hadr', server: 'secondary', database: 'agdb', op: 'SUSPEND' }),
      check({
        server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 1,
        facts: { role_desc: 'SECONDARY', is_suspended: true },
      }),
      check({ server: 'primary', argv: ['--database', 'agdb'], partner: 'secondary', exit: 0, facts: { role_desc: 'PRIMARY' } }),
      act({ do: 'hadr', server: 'secondary', database: 'agdb', op: 'RESUME' }),
      check({ server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 0, facts: running }),
    ],
  },
  {
    name: 'ag (docker): a caught-up secondary passes --role secondary --max-lag, judged from its own row',
    topology: 'ag',
    steps: [
      check({
        server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary', '--max-lag', '60'], exit: 0,
        facts: { ...running, synchronization_state_desc: 'SYNCHRONIZED' },
        expect: [{
          what: 'secondary_lag_seconds, where reported, is NULL on the secondary\'s own row (if a real server shows a number, sqlsim\'s rule is wrong)',
          holds: (f) => f !== null && (!('secondary_lag_seconds' in f) || f.secondary_lag_seconds === null),
        }],
      }),
    ],
  },
  {
    name: 'ag (docker): a login without VIEW SERVER STATE fails, and the reason names the permission',
    topology: 'ag',
    steps: [
      check({ server: 'primary', login: 'monitor_nostate', argv: ['--database', 'agdb'], exit: 1, reason: /VIEW SERVER (PERFORMANCE )?STATE/i }),
      check({ server: 'secondary', login: 'monitor_nostate', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 1, reason: /VIEW SERVER (PERFORMANCE )?STATE/i }),
    ],
  },
  {
    name: 'ag (docker): with the primary\'s container stopped, the secondary is RESOLVING or disconnected and fails every role',
    topology: 'ag',
    steps: [
      act({ do: 'stop', server: 'primary' }),
      ...(['secondary', 'primary'] as const).map((role) => check({
        server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', role], exit: 1,
        expect: [{
          what: 'the facts show the lost primary: role_desc RESOLVING, or connected_state_desc DISCONNECTED',
          holds: (f) => f !== null && (f.role_desc === 'RESOLVING' || f.connected_state_desc === 'DISCONNECTED'),
        }],
      })),
      act({ do: 'start', server: 'primary' }),
      check({ server: 'primary', argv: ['--database', 'agdb'], partner: 'secondary', exit: 0, facts: { role_desc: 'PRIMARY' } }),
      check({ server: 'secondary', login: 'monitor_full', argv: ['--database', 'agdb', '--role', 'secondary'], exit: 0, facts: running }),
    ],
  },
  {
    name: 'standalone (docker): a READ_ONLY database fails as primary, passes --role online, and passes again once READ_WRITE',
    topology: 'standalone',
    steps: [
      act({ do: 'db-state', server: 'standalone', database: 'salesdb', state: 'READ_ONLY' }),
      check({
        server: 'standalone', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 1, reason: /READ_ONLY/,
        facts: { state_desc: 'ONLINE', is_read_only: true },
      }),
      check({ server: 'standalone', argv: ['--database', 'salesdb', '--role', 'online'], exit: 0, facts: { state_desc: 'ONLINE', is_read_only: true } }),
      act({ do: 'db-state', server: 'standalone', database: 'salesdb', state: 'READ_WRITE' }),
      check({ server: 'standalone', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 0, facts: { state_desc: 'ONLINE', is_read_only: false } }),
    ],
  },
  {
    name: 'standalone (docker): an OFFLINE database fails, with OFFLINE in the facts of every login that sees it',
    topology: 'standalone',
    steps: [
      act({ do: 'db-state', server: 'standalone', database: 'salesdb', state: 'OFFLINE' }),
      check({ server: 'standalone', login: 'sysadmin', argv: ['--database', 'salesdb'], exit: 1, reason: /OFFLINE/, facts: { state_desc: 'OFFLINE' } }),
      check({
        server: 'standalone', argv: ['--database', 'salesdb', '--role', 'online'], exit: 1, reason: /OFFLINE|not found/i,
        expect: [{
          what: 'a login that sees the database sees it OFFLINE',
          holds: (f) => f !== null && (f.database_id === null || f.state_desc === 'OFFLINE'),
        }],
      }),
    ],
  },
];

function firstFacts(run: CheckRun): Facts | null {
  const report = run.report as { databases?: { facts?: Facts | null }[] } | null;
  return report?.databases?.[0]?.facts ?? null;
}

/** What is wrong with one check's run, if anything. */
export function judgeRun(c: FactsCheck, run: CheckRun): string[] {
  const problems: string[] = [];
  if (run.exit !== c.exit) problems.push(`exit ${run.exit}${run.signal ? ` (${run.signal})` : ''}, expected ${c.exit}`);
  if (c.reason && !c.reason.test(reasons(run))) problems.push(`reason does not match ${c.reason}`);
  const facts = firstFacts(run);
  for (const [k, want] of Object.entries(c.facts ?? {})) {
    const got = facts ? facts[k] : undefined;
    if (got !== want) problems.push(`facts.${k} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  for (const e of c.expect ?? []) if (!e.holds(facts)) problems.push(`expected: ${e.what}`);
  return problems;
}

function describe(c: FactsCheck): string {
  return `${c.server} as ${c.login ?? 'monitor'}: ${c.argv.join(' ')}`;
}

function describeAction(a: Action): string {
  if (a.do === 'db-state') return `${a.database} ${a.state} on the ${a.server}`;
  if (a.do === 'hadr') return `SET HADR ${a.op} of ${a.database} on the ${a.server}`;
  return `${a.do} the ${a.server}'s container`;
}

/** One scenario on a fresh (or reset) topology; throws an Error naming the step and what was wrong. */
export async function runDockerScenario(binary: string, factory: (kind: TopologyKind) => Promise<DockerTopology>,
  scenario: DockerScenario, log: (line: string) => void = () => {}): Promise<void> {
  const topology = await factory(scenario.topology);
  const secrets = [...Object.values(topology.logins), ...Object.values(topology.extraLogins)].map((l) => l.password);
  const hide = (t: string) => secrets.reduce((text, pw) => (pw ? text.split(pw).join('***') : text), t);
  try {
    for (const [i, step] of scenario.steps.entries()) {
      const at = `step ${i + 1}`;
      if ('act' in step) {
        await topology.act(step.act);
        log(`  ${at}: ${describeAction(step.act)}: done`);
        continue;
      }
      const c = step.check;
      // runCheck knows the shared logins; another login runs as "monitor" in a view of the topology
      const login = c.login === 'monitor_nostate' ? topology.extraLogins.monitor_nostate : undefined;
      const view: Topology = login ? { ...topology, logins: { ...topology.logins, monitor: login } } : topology;
      const run = await runCheck(binary, view, { server: c.server, argv: c.argv, partner: c.partner, login: login ? 'monitor' : c.login as LoginKind | undefined, exit: c.exit });
      const problems = judgeRun(c, run);
      const said = reasons(run);
      log(`  ${at}: ${describe(c)} → exit ${run.exit} in ${run.ms} ms${problems.length ? ' ✗' : ''}: ${said.split('\n')[0]}`);
      if (problems.length) {
        throw new Error(hide([
          `${scenario.name}, ${at} (${describe(c)}): ${problems.join('; ')}`,
          `  check said: ${said.replace(/\n/g, ' | ')}`,
          `  facts: ${JSON.stringify(firstFacts(run))}`,
          `  stderr: ${run.stderr.trim()}`,
        ].join('\n')));
      }
    }
  } finally {
    await topology.close();
  }
}
