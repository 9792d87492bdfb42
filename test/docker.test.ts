// Static checks of the SQL Server 2022 docker harness (test/docker/), the part CI can run without
// a Docker engine: the compose file parses with both profiles, the scripts are executable and
// parse, the docker runner runs the very scenario list the sqlsim suite runs, and
// `make test-docker` without an engine fails with one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/paths.ts';
import { SCENARIOS } from './scenarios/cases.ts';
import { runScenario } from './scenarios/run.ts';
import * as dockerRun from './docker/run.ts';

const DOCKER_DIR = join(ROOT, 'test/docker');
const SCRIPTS = join(DOCKER_DIR, 'scripts');
const DUMMY_SA = 'Dummy-Sa-Pw-0';

interface ComposeService {
  image?: string;
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

/** `docker-compose config` with a dummy env file, parsed (python3-yaml, installed with docker-compose). */
function composeConfig(profileArgs: string[]): { status: number | null; stderr: string; config?: { services: Record<string, ComposeService> } } {
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  try {
    const envFile = join(dir, 'sql.env');
    writeFileSync(envFile, `MSSQL_SA_PASSWORD=${DUMMY_SA}\nMONITOR_PASSWORD=Dummy-Mon-1\nMONITOR_FULL_PASSWORD=Dummy-Mon-2\nDBM_KEY_PASSWORD=Dummy-Key-3\n`, { mode: 0o600 });
    const r = spawnSync('docker-compose', ['-f', join(DOCKER_DIR, 'compose.yaml'), ...profileArgs, 'config'],
      { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, MSSQL_ENV_FILE: envFile } });
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
      assert.equal(s.hostname, name, `${name}: hostname (the instance name, used in replica and partner names)`);
      const env = s.environment ?? {};
      assert.equal(env.ACCEPT_EULA, 'Y', `${name}: ACCEPT_EULA`);
      assert.equal(env.MSSQL_PID, 'Developer', `${name}: MSSQL_PID`);
      assert.equal(env.MSSQL_SA_PASSWORD, DUMMY_SA, `${name}: the SA password comes from the env file`);
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
      assert.deepEqual(s.profiles, profile ? [profile] : undefined, `${setup}: profiles`);
      const command = Array.isArray(s.command) ? s.command : [s.command];
      assert.deepEqual(command, [`/scripts/${script}`]);
      assert.ok(existsSync(join(SCRIPTS, script)), `${script} exists`);
      const mounts = (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
      assert.ok(mounts.some((m) => m.startsWith(`${SCRIPTS}:/scripts`)), `${setup} mounts test/docker/scripts: ${mounts}`);
    }
  });
}

test('compose.yaml refuses to start without the run-time env file, and holds no password', () => {
  const r = spawnSync('docker-compose', ['-f', join(DOCKER_DIR, 'compose.yaml'), 'config'],
    { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /MSSQL_ENV_FILE/);
  const text = readFileSync(join(DOCKER_DIR, 'compose.yaml'), 'utf8');
  assert.doesNotMatch(text, /PASSWORD\s*[:=]\s*["']?[A-Za-z0-9]/, 'no password assigned in compose.yaml');
  assert.doesNotMatch(text, /\s-P\s/, 'sqlcmd never gets the password on its argv');
});

const SCRIPT_FILES = ['setup-mirroring.sh', 'setup-ag.sh', 'mirror-failover.sh', 'ag-failover.sh', 'db-state.sh'];

test('the scripts exist, are executable, parse (bash -n) and pass shellcheck', () => {
  for (const f of [...SCRIPT_FILES, 'lib.sh', '../engine-check.sh']) {
    const path = join(SCRIPTS, f);
    assert.ok(existsSync(path), `${f} exists`);
    if (f !== 'lib.sh') assert.ok((statSync(path).mode & 0o111) === 0o111, `${f} is executable`);
    const n = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
    assert.equal(n.status, 0, `bash -n ${f}: ${n.stderr}`);
    const sc = spawnSync('shellcheck', ['-x', '-S', 'warning', '-s', 'bash', path], { encoding: 'utf8', cwd: SCRIPTS });
    assert.equal(sc.error, undefined, `shellcheck could not run (build/install-deps.sh installs it): ${sc.error}`);
    assert.equal(sc.status, 0, `shellcheck ${f}:\n${sc.stdout}`);
    assert.doesNotMatch(readFileSync(path, 'utf8'), /\s-P\s/, `${f}: sqlcmd never gets the password on its argv`);
  }
});

test('the failover scripts follow Microsoft\'s procedures, step by step', () => {
  // the statements only: not the comments or the log lines that name them
  const statements = (file: string) => readFileSync(join(SCRIPTS, file), 'utf8').split('\n').filter((l) => !/^\s*(#|log )/.test(l)).join('\n');
  const mirror = statements('mirror-failover.sh');
  assert.match(mirror, /PRINCIPAL\|SYNCHRONIZED[\s\S]*SET PARTNER FAILOVER[\s\S]*MIRROR\|SYNCHRONIZED/);
  // "Fail over the primary replica on a read-scale availability group" (CLUSTER_TYPE = NONE)
  const ag = statements('ag-failover.sh');
  const order = ['AVAILABILITY_MODE = SYNCHRONOUS_COMMIT', 'SYNCHRONIZED 180', 'REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT = 1',
    '] OFFLINE', 'FORCE_FAILOVER_ALLOW_DATA_LOSS', 'SET (ROLE = SECONDARY)', 'SET HADR RESUME'];
  let at = -1;
  for (const step of order) {
    const i = ag.indexOf(step, at + 1);
    assert.ok(i > at, `ag-failover.sh: "${step}" must come after the step before it`);
    at = i;
  }
  const setupAg = readFileSync(join(SCRIPTS, 'setup-ag.sh'), 'utf8');
  assert.match(setupAg, /WITH \(CLUSTER_TYPE = NONE\)/);
  assert.match(setupAg, /JOIN WITH \(CLUSTER_TYPE = NONE\)/);
  assert.match(setupAg, /SECONDARY_ROLE \(ALLOW_CONNECTIONS = ALL\)/);
  const setupMirroring = readFileSync(join(SCRIPTS, 'setup-mirroring.sh'), 'utf8');
  assert.match(setupMirroring, /AUTHENTICATION = CERTIFICATE/);
  assert.match(setupMirroring, /RESTORE DATABASE .* WITH NORECOVERY/);
  for (const s of [setupAg, setupMirroring]) assert.match(s, /^for h in .*; do create_logins \$h; done$/m);
  const lib = readFileSync(join(SCRIPTS, 'lib.sh'), 'utf8');
  // the logins of sqlsim's scenarios, with the same permissions
  assert.match(lib, /GRANT VIEW SERVER STATE TO \[monitor\];\nGRANT VIEW ANY DATABASE TO \[monitor\];\n/);
  assert.match(lib, /GRANT VIEW SERVER STATE TO \[monitor_full\];\nGRANT VIEW ANY DATABASE TO \[monitor_full\];\nGRANT VIEW ANY DEFINITION TO \[monitor_full\];/);
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

test('the docker runner runs the very scenario list (and runner) the sqlsim suite runs', () => {
  assert.equal(dockerRun.scenarios, SCENARIOS, 'test/docker/run.ts must export the list it imports from test/scenarios/cases.ts');
  assert.equal(dockerRun.runner, runScenario, 'test/docker/run.ts must run scenarios with test/scenarios/run.ts');
  const sqlsimSuite = readFileSync(join(ROOT, 'test/scenarios-sqlsim.test.ts'), 'utf8');
  assert.match(sqlsimSuite, /import \{[^}]*\bSCENARIOS\b[^}]*\} from '\.\/scenarios\/cases\.ts'/);
  assert.match(sqlsimSuite, /import \{[^}]*\brunScenario\b[^}]*\} from '\.\/scenarios\/run\.ts'/);
  assert.match(sqlsimSuite, /for \(const \w+ of SCENARIOS\)/);

  const names = SCENARIOS.map((s) => s.name);
  assert.equal(new Set(names).size, names.length, 'scenario names are unique');
  assert.ok(SCENARIOS.length >= 10 && SCENARIOS.length <= 20, `a modest list: ${SCENARIOS.length}`);
  const kinds = new Set(dockerRun.STACKS.flatMap((s) => s.kinds));
  for (const s of SCENARIOS) assert.ok(kinds.has(s.topology), `${s.name}: no docker stack runs ${s.topology} scenarios`);
  for (const stack of dockerRun.STACKS) assert.ok(existsSync(join(SCRIPTS, `setup-${stack.name}.sh`)), `setup-${stack.name}.sh exists`);
});

test('the run-time env file is 0600 and its passwords meet SQL Server\'s policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envfile-'));
  try {
    const secrets = { sa: dockerRun.makePassword(), monitor: dockerRun.makePassword(), monitorFull: dockerRun.makePassword(), dbmKey: dockerRun.makePassword() };
    assert.equal(new Set(Object.values(secrets)).size, 4, 'four different passwords');
    for (const pw of Object.values(secrets)) {
      assert.ok(pw.length >= 16, pw.length.toString());
      assert.match(pw, /^[A-Za-z0-9_-]+$/, 'safe in an env file and a T-SQL literal');
      for (const cls of [/[A-Z]/, /[a-z]/, /[0-9]/, /[-_]/]) assert.match(pw, cls);
    }
    const file = dockerRun.writeEnvFile(dir, secrets);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'),
      `MSSQL_SA_PASSWORD=${secrets.sa}\nMONITOR_PASSWORD=${secrets.monitor}\nMONITOR_FULL_PASSWORD=${secrets.monitorFull}\nDBM_KEY_PASSWORD=${secrets.dbmKey}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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

test('the docker runner tears the stack down when it cannot come up, counts every scenario failed, and keeps passwords off argv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
  try {
    // A docker whose compose exists but cannot pull: records each call, the env file's mode, and
    // whether any password of the env file appeared on its argv.
    const fake = join(dir, 'docker');
    writeFileSync(fake, `#!/bin/bash
log=${dir}/calls
echo "$*" >> "$log"
if [ -n "$MSSQL_ENV_FILE" ]; then
  echo "envfile $MSSQL_ENV_FILE $(stat -c %a "$MSSQL_ENV_FILE")" >> "$log"
  while IFS== read -r _ pw; do case " $* " in *"$pw"*) echo LEAK >> "$log";; esac; done < "$MSSQL_ENV_FILE"
fi
[ "$1 $2" = "compose version" ] && exit 0
case " $* " in *" pull "*) echo "no network" >&2; exit 1;; esac
exit 0
`);
    chmodSync(fake, 0o755);
    const r = spawnSync(process.execPath, [join(DOCKER_DIR, 'run.ts')], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, DOCKER: fake },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SQL Server 2022 scenarios: 0 passed, ${SCENARIOS.length} failed`));
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('not ok - ')).length, SCENARIOS.length);
    const calls = readFileSync(join(dir, 'calls'), 'utf8');
    assert.doesNotMatch(calls, /LEAK/, 'a password reached docker\'s argv');
    const downs = calls.split('\n').filter((l) => / down -v /.test(l));
    assert.ok(downs.length >= 2, `each stack is torn down after its failure:\n${calls}`);
    assert.match(downs[0], /-f \S+compose\.yaml --profile ag down -v --remove-orphans/);
    const envFiles = [...calls.matchAll(/^envfile (\S+) (\d+)$/gm)];
    assert.ok(envFiles.length > 0);
    for (const [, file, mode] of envFiles) {
      assert.equal(mode, '600', 'the env file is 0600');
      assert.ok(!existsSync(file), `the env file ${file} is removed at the end`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
