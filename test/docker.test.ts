// The SQL Server 2022 docker harness (test/docker/), the part CI can run without a Docker engine:
// the compose file parses with both profiles, the scripts are executable, parse and pass
// shellcheck, the docker runner runs the very scenario list the sqlsim suite runs, engine-check.sh
// names what a host lacks, and a fake docker (test/docker/fake/) runs the real runner and scripts
// against recorded sqlcmd outputs (test/docker/fake/replays/) and sqlsim "containers": a refused
// SET PARTNER (the mirroring scenarios skipped with the server's message, the standalone ones
// still run), a slow failover (the retry path), a failing GRANT (the message in the runner's
// output). None of this has met a real engine; README.md beside the harness says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, BIN_X64 } from './helpers/paths.ts';
import { SCENARIOS } from './scenarios/cases.ts';
import type { Credentials, LoginKind, TopologyKind } from './scenarios/cases.ts';
import { runScenario } from './scenarios/run.ts';
import type { CheckRun } from './scenarios/run.ts';
import * as dockerRun from './docker/run.ts';
import { DOCKER_SCENARIOS, judgeRun, runDockerScenario } from './docker/scenarios.ts';
import type { Action, DockerTopology, FactsCheck } from './docker/scenarios.ts';
import { startSqlSim } from './sqlsim/server.ts';
import { scenarioFile, setDatabaseState } from './sqlsim/scenarios.ts';
import type { Scenario } from './sqlsim/types.ts';

const DOCKER_DIR = join(ROOT, 'test/docker');
const SCRIPTS = join(DOCKER_DIR, 'scripts');
const FAKE = join(DOCKER_DIR, 'fake');
const REPLAYS = join(FAKE, 'replays');
const DUMMY_SA = 'Dummy-Sa-Pw-0';
const SETUP_VARS = ['MSSQL_SA_PASSWORD', 'MONITOR_PASSWORD', 'MONITOR_FULL_PASSWORD', 'MONITOR_NOSTATE_PASSWORD', 'DBM_KEY_PASSWORD'];

interface ComposeService {
  image?: string;
  platform?: string;
  hostname?: string;
  environment?: Record<string, string>;
  ports?: (string | { host_ip?: string; published?: number | string; target?: number })[];
  profiles?: string[];
  networks?: Record<string, unknown> | string[];
  volumes?: (string | { source?: string; target?: string })[];
  command?: string[] | string;
  entrypoint?: string[] | string;
  depends_on?: Record<string, unknown> | string[];
}

/** `docker-compose config` with dummy env files, parsed (python3-yaml, installed with docker-compose). */
function composeConfig(profileArgs: string[]): { status: number | null; stderr: string; config?: { services: Record<string, ComposeService> } } {
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  try {
    writeFileSync(join(dir, 'server.env'), `MSSQL_SA_PASSWORD=${DUMMY_SA}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'setup.env'), SETUP_VARS.map((v, i) => `${v}=${i ? `Dummy-${i}-x` : DUMMY_SA}`).join('\n') + '\n', { mode: 0o600 });
    const r = spawnSync('docker-compose', ['-f', join(DOCKER_DIR, 'compose.yaml'), ...profileArgs, 'config'],
      { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, MSSQL_ENV_DIR: dir } });
    assert.equal(r.error, undefined, `docker-compose could not run (build/install-deps.sh installs it): ${r.error}`);
    if (r.status !== 0) return { status: r.status, stderr: r.stderr };
    const py = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
      { input: r.stdout, encoding: 'utf8', timeout: 30_000 });
    assert.equal(py.status, 0, `python3-yaml could not parse the config: ${py.stderr}`);
    return { status: 0, stderr: r.stderr, config: JSON.parse(py.stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SQL_SERVERS = { sqla: undefined, sqlb: undefined, sqlag1: 'ag', sqlag2: 'ag' } as const;

for (const profileArgs of [[], ['--profile', 'ag']]) {
  test(`compose.yaml parses with docker-compose config ${profileArgs.join(' ') || '(default profile)'} and describes SQL Server 2022 as documented`, () => {
    const r = composeConfig(profileArgs);
    assert.equal(r.status, 0, r.stderr);
    const services = r.config!.services;
    for (const [name, profile] of Object.entries(SQL_SERVERS)) {
      const s = services[name];
      assert.ok(s, `service ${name} is missing`);
      assert.match(s.image ?? '', /^mcr\.microsoft\.com\/mssql\/server:2022-/, `${name}: the official SQL Server 2022 image`);
      assert.equal(s.platform, 'linux/amd64', `${name}: the image is linux/amd64 only`);
      assert.equal(s.hostname, name, `${name}: hostname (the instance name, used in replica and partner names)`);
      const env = s.environment ?? {};
      assert.equal(env.ACCEPT_EULA, 'Y', `${name}: ACCEPT_EULA`);
      assert.equal(env.MSSQL_PID, 'Developer', `${name}: MSSQL_PID`);
      assert.equal(env.MSSQL_SA_PASSWORD, DUMMY_SA, `${name}: the SA password comes from server.env`);
      // a server gets only its own secret (docker inspect shows a container's environment)
      assert.deepEqual(Object.keys(env).filter((k) => /PASSWORD/.test(k)), ['MSSQL_SA_PASSWORD'], `${name}: no other password`);
      assert.equal(env.MSSQL_ENABLE_HADR, profile === 'ag' ? '1' : undefined, `${name}: MSSQL_ENABLE_HADR`);
      assert.deepEqual(s.profiles, profile ? [profile] : undefined, `${name}: profiles`);
      const ports = s.ports ?? [];
      assert.equal(ports.length, 1, `${name}: one published port`);
      const p = ports[0];
      const hostIp = typeof p === 'string' ? p.split(':')[0] : p.host_ip;
      assert.equal(hostIp, '127.0.0.1', `${name}: published on loopback only`);
      const nets = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
      assert.deepEqual(nets, ['sqlnet'], `${name}: on the private network`);
    }
    for (const [setup, profile, script] of [['mirroring-setup', undefined, 'setup-mirroring.sh'], ['ag-setup', 'ag', 'setup-ag.sh']] as const) {
      const s = services[setup];
      assert.ok(s, `service ${setup} is missing`);
      assert.equal(s.platform, 'linux/amd64', `${setup}: platform`);
      assert.deepEqual(s.profiles, profile ? [profile] : undefined, `${setup}: profiles`);
      const command = Array.isArray(s.command) ? s.command : [s.command];
      assert.deepEqual(command, [`/scripts/${script}`]);
      assert.ok(existsSync(join(SCRIPTS, script)), `${script} exists`);
      const mounts = (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
      assert.ok(mounts.some((m) => m.startsWith(`${SCRIPTS}:/scripts`)), `${setup} mounts test/docker/scripts: ${mounts}`);
      assert.deepEqual(Object.keys(s.environment ?? {}).sort(), [...SETUP_VARS].sort(), `${setup}: the secrets of setup.env`);
    }
    assert.equal(services['exchange-init']?.platform, 'linux/amd64');
  });
}

test('compose.yaml refuses to start without the run-time env files, and holds no password', () => {
  const r = spawnSync('docker-compose', ['-f', join(DOCKER_DIR, 'compose.yaml'), 'config'],
    { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MSSQL_ENV_DIR/);
  const text = readFileSync(join(DOCKER_DIR, 'compose.yaml'), 'utf8');
  assert.doesNotMatch(text, /PASSWORD\s*[:=]\s*["']?[A-Za-z0-9]/, 'no password assigned in compose.yaml');
  assert.doesNotMatch(text, /\s-P\s/, 'sqlcmd never gets the password on its argv');
});

const SCRIPT_FILES = ['setup-standalone.sh', 'setup-mirroring.sh', 'setup-ag.sh', 'mirror-failover.sh', 'ag-failover.sh', 'ag-wait.sh',
  'ag-partner-lost.sh', 'db-state.sh', 'hadr-data-movement.sh'];

test('the scripts exist, are executable, parse (bash -n), pass shellcheck, and never hide what sqlcmd says', () => {
  assert.deepEqual(readdirSync(SCRIPTS).sort(), [...SCRIPT_FILES, 'lib.sh'].sort(), 'every script of the folder is checked here');
  for (const f of [...SCRIPT_FILES, 'lib.sh', '../engine-check.sh']) {
    const path = join(SCRIPTS, f);
    assert.ok(existsSync(path), `${f} exists`);
    if (f !== 'lib.sh') assert.ok((statSync(path).mode & 0o111) === 0o111, `${f} is executable`);
    const n = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
    assert.equal(n.status, 0, `bash -n ${f}: ${n.stderr}`);
    const sc = spawnSync('shellcheck', ['-x', '-S', 'warning', '-s', 'bash', path], { encoding: 'utf8', cwd: SCRIPTS });
    assert.equal(sc.error, undefined, `shellcheck could not run (build/install-deps.sh installs it): ${sc.error}`);
    assert.equal(sc.status, 0, `shellcheck ${f}:\n${sc.stdout}`);
    const text = readFileSync(path, 'utf8');
    assert.doesNotMatch(text, /\s-P\s/, `${f}: sqlcmd never gets the password on its argv`);
    // the server's messages are on sqlcmd's stderr (-r1): no call of it throws them away
    for (const line of text.split('\n')) {
      if (/\b(q|sql|run|attempt)\s+"?\$/.test(line)) assert.doesNotMatch(line, /2>\s*\/dev\/null|&>\s*\/dev\/null/, `${f}: ${line.trim()}`);
    }
  }
  const lib = readFileSync(join(SCRIPTS, 'lib.sh'), 'utf8');
  const calls = lib.split('\n').filter((l) => l.includes('"$SQLCMD" -S'));
  assert.equal(calls.length, 1, 'one place runs sqlcmd');
  assert.match(calls[0], / -b -r1 /, 'sqlcmd -b (exit 1 on an error) -r1 (every message to stderr)');
  assert.match(lib, /WORK=\$\(mktemp -d\)\ntrap 'rm -rf "\$WORK"' EXIT/, 'T-SQL files live in a private folder removed on exit');
});

test('the failover scripts follow Microsoft\'s procedures, step by step, and wait for each role change', () => {
  // the statements only: not the comments or the log lines that name them
  const statements = (file: string) => readFileSync(join(SCRIPTS, file), 'utf8').split('\n').filter((l) => !/^\s*(#|log )/.test(l)).join('\n');
  const mirror = statements('mirror-failover.sh');
  assert.match(mirror, /PRINCIPAL\|SYNCHRONIZED[\s\S]*SET PARTNER FAILOVER[\s\S]*MIRROR\|SYNCHRONIZED/);
  // "Fail over the primary replica on a read-scale availability group" (CLUSTER_TYPE = NONE)
  const ag = statements('ag-failover.sh');
  const order = ['AVAILABILITY_MODE = SYNCHRONOUS_COMMIT', 'SYNCHRONIZED 180', 'REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1',
    '] OFFLINE', 'FORCE_FAILOVER_ALLOW_DATA_LOSS', '"$local_role" PRIMARY 60', 'SET (ROLE = SECONDARY)', '"$local_role" SECONDARY 60',
    'resume_data_movement "$S"', 'resume_data_movement "$P"'];
  let at = -1;
  for (const step of order) {
    const i = ag.indexOf(step, at + 1);
    assert.ok(i > at, `ag-failover.sh: "${step}" must come after the step before it`);
    at = i;
  }
  const lib = readFileSync(join(SCRIPTS, 'lib.sh'), 'utf8');
  const resume = lib.slice(lib.indexOf('resume_data_movement() {'));
  assert.match(resume, /SET HADR RESUME[\s\S]*local_row[\s\S]*= 0[\s\S]*die/, 'RESUME, then the local row until is_suspended = 0, else fail');
  const setupAg = readFileSync(join(SCRIPTS, 'setup-ag.sh'), 'utf8');
  assert.match(setupAg, /WITH \(CLUSTER_TYPE = NONE\)/);
  assert.match(setupAg, /JOIN WITH \(CLUSTER_TYPE = NONE\)/);
  assert.match(setupAg, /SECONDARY_ROLE \(ALLOW_CONNECTIONS = ALL\)/);
  const setupMirroring = readFileSync(join(SCRIPTS, 'setup-mirroring.sh'), 'utf8');
  assert.match(setupMirroring, /AUTHENTICATION = CERTIFICATE/);
  assert.match(setupMirroring, /RESTORE DATABASE .* WITH NORECOVERY/);
  for (const s of [setupAg, setupMirroring]) assert.match(s, /^for h in .*; do create_logins \$h; done$/m);
  assert.match(readFileSync(join(SCRIPTS, 'setup-standalone.sh'), 'utf8'), /^create_logins "\$H"$/m);
  // the logins of sqlsim's scenarios, with the same permissions
  assert.match(lib, /GRANT VIEW SERVER STATE TO \[monitor\];\nGRANT VIEW ANY DATABASE TO \[monitor\];\n/);
  assert.match(lib, /GRANT VIEW SERVER STATE TO \[monitor_full\];\nGRANT VIEW ANY DATABASE TO \[monitor_full\];\nGRANT VIEW ANY DEFINITION TO \[monitor_full\];/);
  assert.match(lib, /GRANT VIEW ANY DATABASE TO \[monitor_nostate\];/);
  assert.doesNotMatch(lib, /GRANT VIEW SERVER (PERFORMANCE )?STATE TO \[monitor_nostate\]/, 'monitor_nostate has no VIEW SERVER STATE');
  assert.doesNotMatch(lib, /ADD MEMBER \[monitor/, 'the monitor logins are not sysadmin');
  // ... which are sqlsim's logins of the same names
  for (const file of ['principal', 'mirror', 'standalone', 'ag-primary', 'ag-secondary-sync']) {
    const logins = JSON.parse(readFileSync(join(ROOT, `test/sqlsim/scenarios/${file}.json`), 'utf8')).logins as Record<string, unknown>[];
    const perms = (name: string) => {
      const l = logins.find((x) => x.name === name)!;
      return [!!l.sysadmin, !!l.viewServerState, !!l.viewAnyDatabase, !!l.viewAnyDefinition];
    };
    assert.deepEqual(perms('monitor'), [false, true, true, false], `${file}.json: monitor`);
    assert.deepEqual(perms('monitor_full'), [false, true, true, true], `${file}.json: monitor_full`);
    assert.deepEqual(perms('sa').slice(0, 1), [true], `${file}.json: sa`);
  }
});

test('the docker runner runs the very scenario list (and runner) the sqlsim suite runs, then its own', () => {
  assert.equal(dockerRun.scenarios, SCENARIOS, 'test/docker/run.ts must export the list it imports from test/scenarios/cases.ts');
  assert.equal(dockerRun.runner, runScenario, 'test/docker/run.ts must run scenarios with test/scenarios/run.ts');
  assert.equal(dockerRun.dockerScenarios, DOCKER_SCENARIOS);
  const sqlsimSuite = readFileSync(join(ROOT, 'test/scenarios-sqlsim.test.ts'), 'utf8');
  assert.match(sqlsimSuite, /import \{[^}]*\bSCENARIOS\b[^}]*\} from '\.\/scenarios\/cases\.ts'/);
  assert.match(sqlsimSuite, /import \{[^}]*\brunScenario\b[^}]*\} from '\.\/scenarios\/run\.ts'/);
  assert.match(sqlsimSuite, /for \(const \w+ of SCENARIOS\)/);

  const names = [...SCENARIOS, ...DOCKER_SCENARIOS].map((s) => s.name);
  assert.equal(new Set(names).size, names.length, 'scenario names are unique');
  assert.ok(SCENARIOS.length >= 10 && SCENARIOS.length <= 20, `a modest list: ${SCENARIOS.length}`);
  const kinds = new Set(dockerRun.STACKS.flatMap((s) => s.parts.flatMap((p) => p.kinds)));
  for (const s of [...SCENARIOS, ...DOCKER_SCENARIOS]) assert.ok(kinds.has(s.topology), `${s.name}: no docker stack runs ${s.topology} scenarios`);
  for (const stack of dockerRun.STACKS) {
    for (const part of stack.parts) {
      assert.ok(existsSync(join(SCRIPTS, part.setup)), `${part.setup} exists`);
      for (const s of part.servers) assert.ok(stack.servers.includes(s), `${part.name}: ${s} is a server of the ${stack.name} stack`);
    }
  }
  // the standalone part needs nothing of mirroring, and is set up before it
  const m = dockerRun.STACKS.find((s) => s.name === 'mirroring')!;
  assert.deepEqual(m.parts.map((p) => p.name), ['standalone', 'mirroring']);
  // every check of the docker-only scenarios asserts more than an exit code
  for (const s of DOCKER_SCENARIOS) {
    for (const step of s.steps) {
      if (!('check' in step)) continue;
      const c = step.check;
      assert.ok(c.reason || Object.keys(c.facts ?? {}).length || c.expect?.length, `${s.name}: a check on the exit code only`);
    }
  }
});

test('the run-time env files are 0600, a server\'s holds only its SA password, and the passwords meet SQL Server\'s policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envfile-'));
  try {
    const secrets = dockerRun.makeSecrets();
    assert.equal(new Set(Object.values(secrets)).size, 5, 'five different passwords');
    for (const pw of Object.values(secrets)) {
      assert.ok(pw.length >= 16, pw.length.toString());
      assert.match(pw, /^[A-Za-z0-9_-]+$/, 'safe in an env file and a T-SQL literal');
      for (const cls of [/[A-Z]/, /[a-z]/, /[0-9]/, /[-_]/]) assert.match(pw, cls);
    }
    const files = dockerRun.writeEnvFiles(dir, secrets);
    for (const f of [files.server, files.setup]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(readFileSync(files.server, 'utf8'), `MSSQL_SA_PASSWORD=${secrets.sa}\n`);
    assert.equal(readFileSync(files.setup, 'utf8'),
      `MSSQL_SA_PASSWORD=${secrets.sa}\nMONITOR_PASSWORD=${secrets.monitor}\nMONITOR_FULL_PASSWORD=${secrets.monitorFull}\n` +
      `MONITOR_NOSTATE_PASSWORD=${secrets.monitorNostate}\nDBM_KEY_PASSWORD=${secrets.dbmKey}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serverMessages: every Msg with its text, sqlcmd\'s own errors and the scripts\' ERROR lines, nothing else', () => {
  const stderr = [
    '[10:00:00] sqlag1: logins monitor, monitor_full and monitor_nostate',
    'Processed 328 pages for database \'appdb\', file \'appdb\' on file 1.',
    'Msg 15151, Level 16, State 1, Server sqlag1, Line 3',
    'Cannot find the login \'monitor\', because it does not exist or you do not have permission.',
    'Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login timeout expired.',
    'ERROR: lib.sh, line 50: sql "$1" (exit 1)',
    '',
  ].join('\n');
  assert.deepEqual(dockerRun.serverMessages(stderr), [
    'Msg 15151, Level 16, State 1, Server sqlag1, Line 3 Cannot find the login \'monitor\', because it does not exist or you do not have permission.',
    'Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login timeout expired.',
    'ERROR: lib.sh, line 50: sql "$1" (exit 1)',
  ]);
  assert.deepEqual(dockerRun.serverMessages('[10:00:00] sqla answers\nProcessed 2 pages\n'), []);
});

// ---- the docker-only scenarios' judge, and their runner on sqlsim ----

function fakeRun(exit: number, facts: Record<string, unknown> | null, reason = 'r'): CheckRun {
  return {
    argv: [], exit, signal: null, stdout: '', stderr: '', ms: 1,
    report: { reason, errorCode: exit ? 'ROLE' : null, databases: [{ name: 'agdb', reason, facts } as never] },
  };
}

test('judgeRun: the exit code, the reason, each named fact and each condition must hold', () => {
  const c: FactsCheck = {
    server: 'secondary', argv: [], exit: 1, reason: /VIEW SERVER (PERFORMANCE )?STATE/i, facts: { is_suspended: true },
    expect: [{ what: 'RESOLVING', holds: (f) => f?.role_desc === 'RESOLVING' }],
  };
  const good = fakeRun(1, { is_suspended: true, role_desc: 'RESOLVING' }, 'GRANT VIEW SERVER STATE TO [m]');
  assert.deepEqual(judgeRun(c, good), []);
  assert.match(judgeRun(c, fakeRun(0, { is_suspended: true, role_desc: 'RESOLVING' }, 'VIEW SERVER STATE')).join(), /exit 0, expected 1/);
  assert.match(judgeRun(c, fakeRun(1, { is_suspended: true, role_desc: 'RESOLVING' }, 'sysadmin')).join(), /reason does not match/);
  assert.match(judgeRun(c, fakeRun(1, { is_suspended: false, role_desc: 'RESOLVING' }, 'VIEW SERVER STATE')).join(), /facts\.is_suspended is false, expected true/);
  assert.match(judgeRun(c, fakeRun(1, { is_suspended: true, role_desc: 'SECONDARY' }, 'VIEW SERVER STATE')).join(), /expected: RESOLVING/);
  assert.match(judgeRun(c, fakeRun(1, null, 'VIEW SERVER STATE')).join(), /facts\.is_suspended is undefined/);
  // the lag rule the docker scenario asserts: NULL (or no such fact) on a secondary's own row
  const lag = DOCKER_SCENARIOS.flatMap((s) => s.steps).map((s) => ('check' in s ? s.check : null))
    .find((ch) => ch?.argv.includes('--max-lag'))!;
  const base = { role_desc: 'SECONDARY', is_suspended: false, synchronization_state_desc: 'SYNCHRONIZED' };
  assert.deepEqual(judgeRun(lag, fakeRun(0, { ...base, secondary_lag_seconds: null })), []);
  assert.deepEqual(judgeRun(lag, fakeRun(0, base)), []);
  assert.match(judgeRun(lag, fakeRun(0, { ...base, secondary_lag_seconds: 0 })).join(), /NULL on the secondary's own row/);
});

/** The standalone docker-only scenarios' topology on sqlsim: act() edits the catalog as the statement would. */
async function sqlsimStandalone(): Promise<{ factory: (kind: TopologyKind) => Promise<DockerTopology>; close: () => Promise<void> }> {
  const base = scenarioFile('standalone');
  const scenario: Scenario = { ...base, logins: [...base.logins, { name: 'monitor_nostate', password: 'Sim-Nostate-Passw0rd', viewAnyDatabase: true }] };
  const sim = await startSqlSim({ scenario, host: '127.0.0.1' });
  const find = (name: string): Credentials => ({ user: name, password: scenario.logins.find((l) => l.name === name)!.password });
  const logins: Record<LoginKind, Credentials> = { monitor: find('monitor'), monitor_full: find('monitor_full'), sysadmin: find('sa') };
  const factory = async (kind: TopologyKind): Promise<DockerTopology> => {
    assert.equal(kind, 'standalone');
    const undo: (() => void)[] = [];
    const apply = (a: Action) => {
      assert.equal(a.do, 'db-state');
      if (a.do !== 'db-state') return;
      const s = sim.engine.scenario;
      if (a.state === 'OFFLINE' || a.state === 'ONLINE') sim.setScenario(setDatabaseState(s, a.database, a.state));
      else {
        sim.setScenario({ ...s, databases: s.databases.map((d) => (d.name === a.database ? { ...d, is_read_only: a.state === 'READ_ONLY' } : d)) });
      }
    };
    return {
      kind, endpoints: { standalone: { host: sim.host, port: sim.port } }, logins,
      extraLogins: { monitor_nostate: find('monitor_nostate') }, timeoutSeconds: 5,
      failover: async () => assert.fail('no failover'),
      setOffline: async () => assert.fail('not used'),
      act: async (a) => {
        apply(a);
        if (a.do === 'db-state' && (a.state === 'OFFLINE' || a.state === 'READ_ONLY')) {
          undo.push(() => apply({ ...a, state: a.state === 'OFFLINE' ? 'ONLINE' : 'READ_WRITE' }));
        }
      },
      close: async () => {
        while (undo.length) undo.pop()!();
      },
    };
  };
  return { factory, close: () => sim.close() };
}

test('the standalone docker-only scenarios pass on sqlsim with the packed binary, and put the server back', async () => {
  assert.ok(existsSync(BIN_X64), 'run make first');
  const { factory, close } = await sqlsimStandalone();
  try {
    const lines: string[] = [];
    for (const s of DOCKER_SCENARIOS.filter((x) => x.topology === 'standalone')) {
      await runDockerScenario(BIN_X64, factory, s, (l) => lines.push(l));
    }
    assert.ok(lines.length >= 7, lines.join('\n'));
    // and a scenario whose expectation does not hold fails, naming the step
    const wrong = { ...DOCKER_SCENARIOS.find((x) => x.topology === 'standalone')! };
    wrong.steps = [{ check: { server: 'standalone', argv: ['--database', 'salesdb', '--allow-standalone'], exit: 0, facts: { is_read_only: true } } }];
    await assert.rejects(runDockerScenario(BIN_X64, factory, wrong), /step 1 .*facts\.is_read_only is false, expected true/);
  } finally {
    await close();
  }
});

// ---- engine-check.sh and make test-docker without an engine ----

for (const [what, env] of [
  ['the engine does not answer', { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }],
  ['there is no docker command', { DOCKER: '/nonexistent/docker' }],
] as const) {
  test(`make test-docker when ${what}: exit non-zero with one line saying no engine is reachable`, () => {
    const r = spawnSync('make', ['--no-print-directory', 'test-docker'], {
      cwd: ROOT, encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...env },
    });
    assert.notEqual(r.status, 0);
    // make adds its own "make: *** [...] Error 1" trailer; everything else is ours.
    const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !/^make(\[\d+\])?: \*\*\*/.test(l));
    assert.equal(ours.length, 1, `exactly one line, got:\n${ours.join('\n')}`);
    assert.match(ours[0], /^test-docker: no Docker engine reachable.*test\/docker\/README\.md\)$/);
  });
}

/** A folder with a fake docker (and sqlcmd, and optionally docker-compose) on PATH; its state is kept there. */
function fakeDocker(): { dir: string; env: NodeJS.ProcessEnv; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
  mkdirSync(join(dir, 'bin'));
  for (const [name, script] of [['docker', 'docker.ts'], ['sqlcmd', 'sqlcmd.ts']]) {
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\nexec "${process.execPath}" "${join(FAKE, script)}" "$@"\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
  const env: NodeJS.ProcessEnv = { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, FAKE_DOCKER_STATE: dir, POLL_SECONDS: '0.1' };
  const cleanup = () => {
    // the fake containers this test started (through the fake docker), by their recorded pids
    const containers = join(dir, 'containers');
    if (existsSync(containers)) {
      for (const f of readdirSync(containers).filter((x) => x.endsWith('.pid'))) {
        try {
          process.kill(Number(readFileSync(join(containers, f), 'utf8')), 'SIGKILL');
        } catch { /* already gone */ }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, env, cleanup };
}

const ENGINE_ROWS: { what: string; env: Record<string, string>; compose?: string; line: RegExp | null }[] = [
  { what: 'a local linux/amd64 engine with compose v2', env: {}, line: null },
  { what: 'an arm64 engine (Apple Silicon)', env: { FAKE_DOCKER_ENGINE: 'linux arm64' }, line: /engine is arm64, and the SQL Server image is linux\/amd64 only: .*Rosetta.*QEMU/ },
  { what: 'an engine in Windows containers mode', env: { FAKE_DOCKER_ENGINE: 'windows amd64' }, line: /runs windows containers, and the SQL Server image needs a Linux engine/ },
  { what: 'a remote DOCKER_HOST', env: { DOCKER_HOST: 'tcp://10.20.30.40:2376' }, line: /engine at tcp:\/\/10\.20\.30\.40:2376 is not on this host/ },
  { what: 'a remote context (ssh)', env: { FAKE_DOCKER_CONTEXT: 'ssh://build@engine.example' }, line: /engine at ssh:\/\/build@engine\.example is not on this host/ },
  { what: 'a local DOCKER_HOST over TCP', env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' }, line: null },
  { what: 'docker-compose 1.27 and no compose v2', env: { FAKE_DOCKER_COMPOSE: 'none' }, compose: '1.27.4', line: /docker-compose 1\.27\.4 is too old: .*1\.29 or later/ },
  { what: 'docker-compose 1.29 and no compose v2', env: { FAKE_DOCKER_COMPOSE: 'none' }, compose: '1.29.2', line: null },
  { what: 'an engine that refuses the connection', env: { FAKE_DOCKER_ENGINE: 'down' }, line: /no Docker engine reachable \('docker version' failed: Cannot connect to the Docker daemon/ },
  { what: 'an engine that never answers (no timeout(1) needed)', env: { FAKE_DOCKER_ENGINE: 'hang', ENGINE_CHECK_SECONDS: '1' }, line: /no Docker engine reachable \('docker version' did not answer within 1s\)/ },
  {
    what: 'an arm64 engine that is also remote: both, in one line', env: { FAKE_DOCKER_ENGINE: 'linux arm64', DOCKER_HOST: 'ssh://mac.example' },
    line: /engine is arm64.*; the Docker engine at ssh:\/\/mac\.example is not on this host/,
  },
];

for (const row of ENGINE_ROWS) {
  test(`engine-check.sh with ${row.what}: ${row.line ? 'one line naming what is missing, exit 1' : 'silent, exit 0'}`, () => {
    const { dir, env, cleanup } = fakeDocker();
    try {
      if (row.compose) {
        writeFileSync(join(dir, 'bin', 'docker-compose'), `#!/bin/sh\n[ "$1 $2" = "version --short" ] && echo ${row.compose}\n`);
        chmodSync(join(dir, 'bin', 'docker-compose'), 0o755);
      }
      const r = spawnSync('bash', [join(DOCKER_DIR, 'engine-check.sh')], { encoding: 'utf8', timeout: 60_000, env: { ...env, ...row.env } });
      const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim());
      if (!row.line) {
        assert.equal(r.status, 0, lines.join('\n'));
        assert.deepEqual(lines, []);
        return;
      }
      assert.equal(r.status, 1);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], /^test-docker: .*\(see test\/docker\/README\.md\)$/);
      assert.match(lines[0], row.line);
    } finally {
      cleanup();
    }
  });
}

// ---- the runner and its scripts with the fake docker ----

interface RunnerRun {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string;
  sqlcmd: string;
}

function runRunner(args: string[], extra: Record<string, string>, check?: (dir: string) => void): RunnerRun {
  const { dir, env, cleanup } = fakeDocker();
  try {
    const r = spawnSync(process.execPath, [join(DOCKER_DIR, 'run.ts'), ...args], {
      cwd: ROOT, encoding: 'utf8', timeout: 240_000, env: { ...env, ...extra },
    });
    assert.equal(r.error, undefined, String(r.error));
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
    const out = { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: read('calls'), sqlcmd: read('sqlcmd.log') };
    check?.(dir);
    return out;
  } finally {
    cleanup();
  }
}

/** What every run with the fake docker must show: no password on an argv, env files as they must be, sqlcmd called right. */
function assertHygiene(run: RunnerRun): void {
  assert.doesNotMatch(run.calls, /^LEAK$/m, 'a password reached docker\'s argv');
  const envDirs = [...run.calls.matchAll(/^envdir (\S+) (\d+) server\.env (\d+) (\S+) setup\.env (\d+) (\S+)$/gm)];
  assert.ok(envDirs.length > 0, run.calls);
  for (const [, dir, dirMode, serverMode, serverVars, setupMode, setupVars] of envDirs) {
    assert.deepEqual([dirMode, serverMode, setupMode], ['700', '600', '600'], 'a private folder, 0600 files');
    assert.equal(serverVars, 'MSSQL_SA_PASSWORD', 'a server gets only its SA password');
    assert.equal(setupVars, SETUP_VARS.join(','));
    assert.ok(!existsSync(dir), `the env folder ${dir} is removed at the end`);
  }
  assert.doesNotMatch(run.sqlcmd, /^(UNMATCHED|BADARGS|NOPASSWORD)/m, `every sqlcmd call replayed, with -b -r1 and SQLCMDPASSWORD:\n${run.sqlcmd}`);
  const downs = run.calls.split('\n').filter((l) => / down -v /.test(l));
  assert.ok(downs.length >= 1, `the stack is torn down:\n${run.calls}`);
  assert.match(downs[0], /-f \S+compose\.yaml --profile ag down -v --remove-orphans/);
  assert.doesNotMatch(run.calls, /^compose .* pull /m, 'no compose pull: up --pull missing');
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
const MSG_1463 = 'Msg 1463, Level 16, State 1, Server sqlb, Line 2 Database mirroring is not available in the edition of this SQL Server instance.';
const mirroringNames = SCENARIOS.filter((s) => s.topology === 'mirroring').map((s) => s.name);

test('fake docker: the stack cannot come up: every scenario fails, each stack is torn down, no password on argv', () => {
  const run = runRunner([], { FAKE_DOCKER_FAIL: 'up' });
  const total = SCENARIOS.length + DOCKER_SCENARIOS.length;
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`SQL Server 2022 scenarios: 0 passed, ${total} failed, 0 skipped`));
  assert.equal(lines(run.stdout, 'not ok - ').length, total);
  assert.match(run.stdout, /did not come up: compose up sqla sqlb failed \(exit 1\): Error response from daemon/);
  assertHygiene(run);
  assert.ok(run.calls.split('\n').filter((l) => / down -v /.test(l)).length >= 2, 'each stack is torn down after its failure');
  assert.match(run.calls, /^compose -p \S+ -f \S+ up -d --pull missing sqla sqlb$/m);
});

test('fake docker: a refused SET PARTNER skips every mirroring scenario with the server\'s message, the standalone ones still run, exit 2', () => {
  const run = runRunner(['--only', 'mirroring', '--scenario', 'mirroring:', '--scenario', 'standalone: ONLINE READ_WRITE passes'], {
    FAKE_REPLAY: join(REPLAYS, 'mirroring-refused.json'), FAKE_DOCKER_SERVERS: JSON.stringify({ sqla: 'standalone' }),
  });
  assert.equal(run.status, 2, run.stdout + run.stderr);
  const skips = lines(run.stdout, 'skip - ');
  assert.deepEqual(skips.map((l) => l.slice('skip - '.length, l.indexOf(' (not supported here: '))), mirroringNames);
  for (const l of skips) assert.ok(l.includes(`(not supported here: ${MSG_1463}`), l);
  assert.deepEqual(lines(run.stdout, 'ok - '), ['ok - standalone: ONLINE READ_WRITE passes, and fails once the database is taken offline']);
  assert.deepEqual(lines(run.stdout, 'not ok - '), []);
  assert.match(run.stdout, new RegExp(`SQL Server 2022 scenarios: 1 passed, 0 failed, ${mirroringNames.length} skipped \\(not supported here\\)`));
  // the standalone part is set up first, and the mirroring setup ran to its refusal
  const order = run.calls.split('\n').filter((l) => / run /.test(l)).map((l) => l.split(' ').slice(-1)[0]);
  assert.ok(order.indexOf('/scripts/setup-standalone.sh') < order.indexOf('/scripts/setup-mirroring.sh'), order.join('\n'));
  assert.match(run.sqlcmd, /^sqlb\trule \d+\texit 1\tALTER DATABASE \[appdb\] SET PARTNER = N'TCP:\/\/sqla:5022';$/m);
  assertHygiene(run);
});

test('fake docker: SET PARTNER failing for another reason (Msg 1418) fails the mirroring scenarios with that message, no skip', () => {
  const run = runRunner(['--only', 'mirroring', '--scenario', 'mirroring:'], { FAKE_REPLAY: join(REPLAYS, 'mirroring-unreachable.json') });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.deepEqual(lines(run.stdout, 'skip - '), []);
  const failures = lines(run.stdout, 'not ok - ');
  assert.equal(failures.length, mirroringNames.length);
  for (const l of failures) {
    assert.ok(l.includes('Msg 1418, Level 16, State 1, Server sqla, Line 2 The server network address "TCP://sqlb:5022" can not be reached or does not exist.'), l);
  }
  assertHygiene(run);
});

test('fake docker: a slow failover (roles change after a poll, RESUME refused then late) is waited out, and the verdicts swap', () => {
  const run = runRunner(['--only', 'ag', '--scenario', 'ag: the verdicts swap after a manual failover'], {
    FAKE_REPLAY: join(REPLAYS, 'ag-slow-failover.json'), FAKE_DOCKER_SERVERS: JSON.stringify({ sqlag1: 'ag-primary', sqlag2: 'ag-secondary-sync' }),
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.deepEqual(lines(run.stdout, 'ok - '), ['ok - ag: the verdicts swap after a manual failover']);
  assert.match(run.stdout, /SQL Server 2022 scenarios: 1 passed, 0 failed, 0 skipped/);
  // the retry path, in the order the sqlcmd calls came
  const calls = run.sqlcmd.split('\n').filter(Boolean);
  const at = (re: RegExp) => {
    const i = calls.findIndex((l) => re.test(l));
    assert.ok(i >= 0, `${re} not in:\n${run.sqlcmd}`);
    return i;
  };
  const demote = at(/^sqlag1\t.*SET \(ROLE = SECONDARY\)/);
  const demoted = at(/^sqlag1\trule \d+ reply 2\t.*SELECT role_desc FROM sys\.dm_hadr_availability_replica_states/);
  const refused = at(/^sqlag2\trule \d+ reply 0\texit 1\tALTER DATABASE \[agdb\] SET HADR RESUME;/);
  const accepted = at(/^sqlag2\trule \d+ reply 1\texit 0\tALTER DATABASE \[agdb\] SET HADR RESUME;/);
  const resumedLate = at(/^sqlag1\trule \d+ reply 2\t.*is_suspended/);
  assert.ok(at(/FORCE_FAILOVER_ALLOW_DATA_LOSS/) < demote && demote < demoted && demoted < refused && refused < accepted && accepted < resumedLate,
    'FORCE_FAILOVER, ROLE = SECONDARY, its role seen, RESUME refused, RESUME accepted, the old primary resumed');
  assert.match(run.stderr, /sqlag2: RESUME of agdb not accepted \(try 1\): Msg 35239, Level 16/);
  assert.match(run.stderr, /sqlag1: data movement of agdb runs \(0\|SYNCHRONIZING\|NULL\|ONLINE\)/);
  assertHygiene(run);
});

test('fake docker: the primary\'s container stopped: the secondary is waited for until it shows the loss, fails every role, and the AG is whole again after start', () => {
  const run = runRunner(['--only', 'ag', '--scenario', 'ag (docker): with the primary\'s container stopped'], {
    FAKE_REPLAY: join(REPLAYS, 'ag-lost-primary.json'), FAKE_DOCKER_SERVERS: JSON.stringify({ sqlag1: 'ag-primary', sqlag2: 'ag-secondary-sync' }),
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^ok - ag \(docker\): with the primary's container stopped/m);
  assert.match(run.stdout, /SQL Server 2022 scenarios: 1 passed, 0 failed, 0 skipped/);
  // stop, wait for the secondary to see it, checks, start, wait for the AG
  const calls = run.calls.split('\n').filter((l) => / (stop|start|run) /.test(l)).map((l) => l.replace(/^.* (stop|start|run) /, '$1 '));
  const i = (re: RegExp) => calls.findIndex((l) => re.test(l));
  assert.ok(i(/^stop -t 30 sqlag1$/) >= 0 && i(/^stop /) < i(/ag-partner-lost\.sh sqlag2$/) && i(/ag-partner-lost/) < i(/^start sqlag1$/) &&
    i(/^start sqlag1$/) < i(/ag-wait\.sh agdb sqlag1 sqlag2$/), calls.join('\n'));
  assert.match(run.stdout, /secondary as monitor_full: --database agdb --role secondary → exit 1 .*availability replica role is RESOLVING/);
  assert.match(run.sqlcmd, /^sqlag2\trule \d+ reply 1\t.*connected_state_desc/m, 'the wait saw the loss on its second poll');
  assertHygiene(run);
});

test('fake docker: a failing GRANT in the AG setup fails every AG scenario, and its Msg is in the runner\'s output', () => {
  const run = runRunner(['--only', 'ag'], { FAKE_REPLAY: join(REPLAYS, 'ag-grant-fails.json') });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  const ag = [...SCENARIOS, ...DOCKER_SCENARIOS].filter((s) => s.topology === 'ag').map((s) => s.name);
  const failures = lines(run.stdout, 'not ok - ');
  assert.equal(failures.length, ag.length, run.stdout);
  const msg = 'Msg 15151, Level 16, State 1, Server sqlag1, Line 3 Cannot find the login \'monitor\', because it does not exist or you do not have permission.';
  for (const l of failures) {
    assert.ok(l.includes('(the ag setup failed: compose run ag-setup /scripts/setup-ag.sh failed (exit 1): '), l);
    assert.ok(l.includes(msg), l);
  }
  assertHygiene(run);
});

// ---- the scripts on their own, against replays ----

function runScript(script: string, args: string[], replay: string, extra: Record<string, string> = {}) {
  const { dir, env, cleanup } = fakeDocker();
  try {
    const started = Date.now();
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const r = spawnSync('bash', [join(SCRIPTS, script), ...args], {
      encoding: 'utf8', timeout: 120_000,
      env: {
        PATH: env.PATH, TMPDIR: tmp, FAKE_DOCKER_STATE: dir, FAKE_REPLAY: join(REPLAYS, replay), MSSQL_SQLCMD: join(dir, 'bin', 'sqlcmd'), POLL_SECONDS: '0.1',
        MSSQL_SA_PASSWORD: 'Aa1-sa-0123456789', MONITOR_PASSWORD: 'Aa1-m-0123456789', MONITOR_FULL_PASSWORD: 'Aa1-f-0123456789',
        MONITOR_NOSTATE_PASSWORD: 'Aa1-n-0123456789', DBM_KEY_PASSWORD: 'Aa1-k-0123456789', ...extra,
      },
    });
    const sqlcmd = existsSync(join(dir, 'sqlcmd.log')) ? readFileSync(join(dir, 'sqlcmd.log'), 'utf8') : '';
    assert.doesNotMatch(sqlcmd, /^(UNMATCHED|BADARGS|NOPASSWORD)/m, sqlcmd);
    assert.deepEqual(readdirSync(tmp), [], 'no T-SQL file left behind');
    return { ...r, seconds: (Date.now() - started) / 1000 };
  } finally {
    cleanup();
  }
}

for (const row of [
  { replay: 'mirroring-refused.json', status: 3, stdout: /^Msg 1463, Level 16, State 1, Server sqlb, Line 2\nDatabase mirroring is not available in the edition/, stderr: /sqlb refuses database mirroring/ },
  { replay: 'mirroring-unreachable.json', status: 1, stdout: /^$/, stderr: /ERROR: sqla refused SET PARTNER = TCP:\/\/sqlb:5022: Msg 1418, Level 16, State 1, Server sqla, Line 2 The server network address/ },
  { replay: 'mirroring-never-synchronizes.json', status: 1, stdout: /^$/, stderr: /ERROR: the mirroring session of appdb did not reach SYNCHRONIZED within 1s: sqla \[PRINCIPAL\|DISCONNECTED\], sqlb \[MIRROR\|DISCONNECTED\]; error log: sqla: .*Database mirroring is inactive for database 'appdb'/ },
  { replay: 'mirroring-disabled-in-errorlog.json', status: 3, stdout: /^sqla: .*\|Database Mirroring is disabled on this server due to error 1\./, stderr: /refuses database mirroring/ },
]) {
  test(`setup-mirroring.sh with ${row.replay}: exit ${row.status}${row.status === 3 ? ' (not supported here), the server\'s words on stdout' : ', the server\'s message in the error'}`, () => {
    const r = runScript('setup-mirroring.sh', [], row.replay, { SYNC_WAIT_SECONDS: '1' });
    assert.equal(r.status, row.status, r.stderr);
    assert.match(r.stdout, row.stdout);
    assert.match(r.stderr, row.stderr);
  });
}

test('ag-failover.sh when the old primary never resumes: fails within RESUME_WAIT_SECONDS with the local row and the last Msg', () => {
  const r = runScript('ag-failover.sh', ['ag1', 'agdb', 'sqlag1', 'sqlag2'], 'ag-resume-never.json', { RESUME_WAIT_SECONDS: '2' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '', 'no new primary printed');
  assert.match(r.stderr, /ERROR: sqlag1: data movement of agdb still suspended after 2s and \d+ RESUME tries; local row \(is_suspended\|synchronization_state\|suspend_reason\|database_state\): \[1\|NOT SYNCHRONIZING\|SUSPEND_FROM_PARTNER\|ONLINE\]; last RESUME error: Msg 35239, Level 16/);
  assert.ok(r.seconds < 60, `bounded: ${r.seconds}s`);
});
