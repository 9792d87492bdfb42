// A stand-in for the docker client, for test/docker.test.ts: no Docker engine runs in CI, yet the
// runner (../run.ts), its scripts (../scripts) and engine-check.sh must be seen to handle what a
// real engine and SQL Server say. It answers what the harness asks of docker:
//
//   docker version --format ...     "OS ARCH" of FAKE_DOCKER_ENGINE (default "linux amd64"; "down":
//                                   unreachable; "hang": never answers)
//   docker context inspect ...      FAKE_DOCKER_CONTEXT (default unix:///var/run/docker.sock)
//   docker compose version          a v2 compose (FAKE_DOCKER_COMPOSE=none: there is none)
//   docker compose ... up           for each service named in FAKE_DOCKER_SERVERS ({"sqla": "standalone"}),
//                                   a "container": sqlsim (test/sqlsim/cli.ts) with that scenario file,
//                                   on the service's published port (SQLA_PORT, ...), its logins'
//                                   passwords taken from the env files, a control socket beside it;
//                                   FAKE_DOCKER_FAIL=up: fails as a pull without network does
//   docker compose ... run SVC /scripts/X ARGS
//                                   the real script, with the env of setup.env only, and
//                                   ./sqlcmd.ts as its sqlcmd (it replays FAKE_REPLAY)
//   docker compose ... stop|start S stops or starts that container
//   docker compose ... down         stops them all
//
// Every call is appended to FAKE_DOCKER_STATE/calls, with "LEAK" when a password of the env files
// is on its argv and an "envdir" line describing the env files (mode and variable names).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = join(HERE, '../scripts');
const SQLSIM_CLI = join(HERE, '../../sqlsim/cli.ts');
const SQLSIM_SCENARIOS = join(HERE, '../../sqlsim/scenarios');
const state = process.env.FAKE_DOCKER_STATE;
if (!state) {
  process.stderr.write('fake docker: FAKE_DOCKER_STATE is not set\n');
  process.exit(2);
}
const containers = join(state, 'containers');
const argv = process.argv.slice(2);

function envFile(name: 'server' | 'setup'): Record<string, string> {
  const dir = process.env.MSSQL_ENV_DIR;
  if (!dir) return {};
  const file = join(dir, `${name}.env`);
  if (!existsSync(file)) return {};
  return Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

function record(line: string): void {
  appendFileSync(join(state!, 'calls'), line + '\n');
}

record(argv.join(' '));
const secrets = Object.values({ ...envFile('server'), ...envFile('setup') }).filter((v) => v.length >= 8);
if (secrets.some((pw) => argv.some((a) => a.includes(pw)))) record('LEAK');
if (process.env.MSSQL_ENV_DIR) {
  const dir = process.env.MSSQL_ENV_DIR;
  const mode = (p: string) => (existsSync(p) ? (statSync(p).mode & 0o777).toString(8) : 'missing');
  record(`envdir ${dir} ${mode(dir)} server.env ${mode(join(dir, 'server.env'))} ${Object.keys(envFile('server')).join(',')}` +
    ` setup.env ${mode(join(dir, 'setup.env'))} ${Object.keys(envFile('setup')).join(',')}`);
}

function pidOf(service: string): number | null {
  const f = join(containers, `${service}.pid`);
  return existsSync(f) ? Number(readFileSync(f, 'utf8')) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopContainer(service: string): Promise<void> {
  const pid = pidOf(service);
  if (pid === null) return;
  if (alive(pid)) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(join(containers, `${service}.pid`), { force: true });
}

async function startContainer(service: string): Promise<void> {
  const servers = JSON.parse(process.env.FAKE_DOCKER_SERVERS ?? '{}') as Record<string, string>;
  const name = servers[service];
  if (!name) return; // a service this test does not need running
  const port = process.env[`${service.toUpperCase()}_PORT`];
  if (!port) throw new Error(`no ${service.toUpperCase()}_PORT`);
  mkdirSync(containers, { recursive: true });
  await stopContainer(service);
  // The container's logins get the passwords run.ts made, as the setup scripts would set them.
  const scenario = JSON.parse(readFileSync(join(SQLSIM_SCENARIOS, `${name}.json`), 'utf8'));
  const server = envFile('server');
  const setup = envFile('setup');
  const passwords: Record<string, string | undefined> = {
    sa: server.MSSQL_SA_PASSWORD, monitor: setup.MONITOR_PASSWORD, monitor_full: setup.MONITOR_FULL_PASSWORD,
  };
  scenario.logins = scenario.logins.filter((l: { name: string }) => passwords[l.name])
    .map((l: { name: string }) => ({ ...l, password: passwords[l.name] }));
  if (setup.MONITOR_NOSTATE_PASSWORD) {
    scenario.logins.push({ name: 'monitor_nostate', password: setup.MONITOR_NOSTATE_PASSWORD, viewServerState: false, viewAnyDatabase: true });
  }
  const file = join(containers, `${service}.json`);
  writeFileSync(file, JSON.stringify(scenario), { mode: 0o600 });
  const out = join(containers, `${service}.log`);
  rmSync(out, { force: true });
  const fd = openSync(out, 'a');
  const child = spawn(process.execPath, [SQLSIM_CLI, '--scenario', file, '--host', '127.0.0.1', '--port', port,
    '--control', join(containers, `${service}.sock`)], { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  writeFileSync(join(containers, `${service}.pid`), String(child.pid));
  for (let i = 0; i < 400; i++) {
    if (readFileSync(out, 'utf8').includes('listening')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sqlsim for ${service} did not start: ${readFileSync(out, 'utf8')}`);
}

function runScript(service: string, command: string[]): number {
  const [script, ...args] = command;
  if (!script?.startsWith('/scripts/')) {
    process.stderr.write(`fake docker: ${service} runs only /scripts/*, not ${script}\n`);
    return 2;
  }
  // The script sees what its container would: setup.env, and nothing of the caller's environment
  // but PATH and the knobs of this fake.
  const env: NodeJS.ProcessEnv = {
    ...envFile('setup'), PATH: process.env.PATH, MSSQL_SQLCMD: join(state!, 'bin', 'sqlcmd'),
  };
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(FAKE_|POLL_SECONDS$|SYNC_WAIT_SECONDS$|RESUME_WAIT_SECONDS$)/.test(k)) env[k] = v;
  }
  const r = spawnSync('bash', [join(SCRIPTS, script.slice('/scripts/'.length)), ...args], { env, stdio: 'inherit' });
  return r.status ?? 1;
}

async function compose(args: string[]): Promise<number> {
  let i = 0;
  for (; i < args.length; i++) {
    if (['-p', '-f', '--profile'].includes(args[i])) i++;
    else break;
  }
  const [sub, ...rest] = args.slice(i);
  const operands = (list: string[], withValue: string[]) => {
    const out: string[] = [];
    for (let j = 0; j < list.length; j++) {
      if (withValue.includes(list[j])) j++;
      else if (!list[j].startsWith('-')) out.push(list[j]);
    }
    return out;
  };
  switch (sub) {
    case 'version':
      if (process.env.FAKE_DOCKER_COMPOSE === 'none') return 1;
      process.stdout.write('Docker Compose version v2.29.7\n');
      return 0;
    case 'up':
      if (process.env.FAKE_DOCKER_FAIL === 'up') {
        process.stderr.write('Error response from daemon: Get "https://mcr.microsoft.com/v2/": dial tcp: lookup mcr.microsoft.com: no such host\n');
        return 1;
      }
      for (const s of operands(rest, ['--pull'])) await startContainer(s);
      return 0;
    case 'run': {
      const ops: string[] = [];
      let j = 0;
      for (; j < rest.length && rest[j].startsWith('-'); j++);
      ops.push(...rest.slice(j));
      return runScript(ops[0], ops.slice(1));
    }
    case 'stop':
      for (const s of operands(rest, ['-t'])) await stopContainer(s);
      return 0;
    case 'start':
      for (const s of operands(rest, [])) await startContainer(s);
      return 0;
    case 'down':
      if (existsSync(containers)) {
        for (const f of readdirSync(containers)) if (f.endsWith('.pid')) await stopContainer(f.slice(0, -4));
      }
      return 0;
    default:
      process.stderr.write(`fake docker: compose ${sub} is not faked\n`);
      return 2;
  }
}

async function main(): Promise<number> {
  if (argv[0] === 'compose') return compose(argv.slice(1));
  if (argv[0] === 'version') {
    const engine = process.env.FAKE_DOCKER_ENGINE ?? 'linux amd64';
    if (engine === 'hang') return new Promise<number>(() => setInterval(() => {}, 1000));
    if (engine === 'down') {
      process.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n');
      return 1;
    }
    process.stdout.write(engine + '\n');
    return 0;
  }
  if (argv[0] === 'context' && argv[1] === 'inspect') {
    process.stdout.write((process.env.FAKE_DOCKER_CONTEXT ?? 'unix:///var/run/docker.sock') + '\n');
    return 0;
  }
  process.stderr.write(`fake docker: ${argv.join(' ')} is not faked\n`);
  return 2;
}

process.exitCode = await main();
