// `make test-docker`: runs the scenarios of test/scenarios/cases.ts — the very list the sqlsim
// suite runs — and those of ./scenarios.ts (what only a real server shows) against real SQL
// Server 2022 containers (compose.yaml beside this file) with the built binary. Brings each stack
// up, runs each part's setup script, waits until its servers answer, runs that part's scenarios,
// and tears the stack down, also on failure or Ctrl-C. See README.md.
//
//   node test/docker/run.ts [--only mirroring|ag] [--scenario SUBSTRING]... [--keep]
//
// Exit status: 0 every scenario passed; 1 a scenario failed (or none ran); 2 none failed, but the
// engine refused a feature in its own words (database mirroring on Linux) and that part's
// scenarios are reported as skipped, "not supported here", with the server's message: never as a
// pass.
//
// The passwords are made here at run time and written to two 0600 env files in a private
// temporary folder (MSSQL_ENV_DIR) that compose hands to the containers: a server gets only its SA
// password, the setup services the rest. Nothing secret is committed, put on an argv or printed.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sql from 'mssql';
import { SCENARIOS } from '../scenarios/cases.ts';
import type { Endpoint, LoginKind, Credentials, ServerRole, TopologyKind } from '../scenarios/cases.ts';
import { runScenario } from '../scenarios/run.ts';
import { DOCKER_SCENARIOS, runDockerScenario } from './scenarios.ts';
import type { Action, DockerTopology } from './scenarios.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const COMPOSE_FILE = join(HERE, 'compose.yaml');
const BINARY = join(HERE, '../../dist/mssql-role-check-linux-x64');

/** The list this runner runs: the shared one, not a copy (test/docker.test.ts checks the identity). */
export const scenarios = SCENARIOS;
export const runner = runScenario;
export const dockerScenarios = DOCKER_SCENARIOS;

/** Exit status of a setup script when the engine refuses a feature in its own words (scripts/lib.sh). */
export const NOT_SUPPORTED = 3;

/** Part of a stack: a setup script and the scenarios that need only what it sets up. */
export interface Part {
  name: string;
  setup: string;
  kinds: TopologyKind[];
  /** the servers its scenarios check, waited for on their published ports */
  servers: string[];
}

/** A compose stack: its servers, the service its scripts run in, and its parts, set up in order. */
export interface Stack {
  name: 'mirroring' | 'ag';
  profile?: string;
  servers: string[];
  service: string;
  parts: Part[];
}

export const STACKS: readonly Stack[] = [
  {
    // salesdb, the standalone scenarios' database, lives on sqla; it needs no mirroring, so its
    // part runs first and whatever the engine says to database mirroring
    name: 'mirroring', servers: ['sqla', 'sqlb'], service: 'mirroring-setup',
    parts: [
      { name: 'standalone', setup: 'setup-standalone.sh', kinds: ['standalone'], servers: ['sqla'] },
      { name: 'mirroring', setup: 'setup-mirroring.sh', kinds: ['mirroring'], servers: ['sqla', 'sqlb'] },
    ],
  },
  {
    name: 'ag', profile: 'ag', servers: ['sqlag1', 'sqlag2'], service: 'ag-setup',
    parts: [{ name: 'ag', setup: 'setup-ag.sh', kinds: ['ag'], servers: ['sqlag1', 'sqlag2'] }],
  },
];

export interface Secrets {
  sa: string;
  monitor: string;
  monitorFull: string;
  monitorNostate: string;
  dbmKey: string;
}

/** A password SQL Server's policy accepts (upper, lower, digit, symbol), safe in an env file and a T-SQL N'' literal. */
export function makePassword(): string {
  return `Aa1-${randomBytes(18).toString('base64url')}`;
}

export function makeSecrets(): Secrets {
  return { sa: makePassword(), monitor: makePassword(), monitorFull: makePassword(), monitorNostate: makePassword(), dbmKey: makePassword() };
}

/**
 * Write the env files compose gives to the containers, mode 0600, into DIR (the caller's private
 * folder): server.env for the servers (only the SA password, which the image reads at first
 * start), setup.env for the setup services (the SA password and the passwords they set).
 */
export function writeEnvFiles(dir: string, secrets: Secrets): { server: string; setup: string } {
  const files = {
    server: [`MSSQL_SA_PASSWORD=${secrets.sa}`],
    setup: [
      `MSSQL_SA_PASSWORD=${secrets.sa}`,
      `MONITOR_PASSWORD=${secrets.monitor}`,
      `MONITOR_FULL_PASSWORD=${secrets.monitorFull}`,
      `MONITOR_NOSTATE_PASSWORD=${secrets.monitorNostate}`,
      `DBM_KEY_PASSWORD=${secrets.dbmKey}`,
    ],
  };
  const out = { server: join(dir, 'server.env'), setup: join(dir, 'setup.env') };
  for (const k of ['server', 'setup'] as const) {
    writeFileSync(out[k], files[k].join('\n') + '\n', { mode: 0o600 });
    chmodSync(out[k], 0o600);
  }
  return out;
}

/**
 * The server's messages in a script's stderr, one line each ("Msg N, Level L, State S, Server H,
 * Line N" joined to its text), with sqlcmd's own errors and the scripts' ERROR lines: what a
 * failure report shows.
 */
export function serverMessages(stderr: string): string[] {
  const lines = stderr.split(/\r?\n/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (/^Msg \d+, Level \d+, State \d+/.test(l)) {
      out.push(`${l} ${(lines[i + 1] ?? '').trim()}`.trim());
      i++;
    } else if (/^(ERROR|Sqlcmd: Error)\b/.test(l)) {
      out.push(l);
    }
  }
  return out;
}

/** A compose command that failed: its exit status, output and the server's messages in its stderr. */
export class ComposeError extends Error {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(message: string, status: number | null, stdout: string, stderr: string) {
    super(message);
    this.status = status;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** A compose command in a few words: the subcommand and its operands, without options and their values. */
function describe(args: string[]): string {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (['--pull', '-t'].includes(args[i])) i++;
    else if (!args[i].startsWith('-')) words.push(args[i]);
  }
  return words.slice(0, 4).join(' ');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `docker compose` (v2) when the docker client has it, else `docker-compose` (v1). */
export function composeCommand(docker = process.env.DOCKER ?? 'docker'): string[] {
  const v2 = spawnSync(docker, ['compose', 'version'], { stdio: 'ignore', timeout: 20_000 });
  return v2.status === 0 ? [docker, 'compose'] : ['docker-compose'];
}

class Compose {
  readonly project = `mssql-role-check-${process.pid}`;
  readonly cmd = composeCommand();
  readonly env: NodeJS.ProcessEnv;
  readonly ports: Record<string, number>;
  private readonly secrets: string[];

  constructor(envDir: string, ports: Record<string, number>, secrets: Secrets) {
    this.ports = ports;
    this.secrets = Object.values(secrets);
    this.env = {
      ...process.env, MSSQL_ENV_DIR: envDir,
      SQLA_PORT: String(ports.sqla), SQLB_PORT: String(ports.sqlb),
      SQLAG1_PORT: String(ports.sqlag1), SQLAG2_PORT: String(ports.sqlag2),
    };
  }

  /** The text with every password replaced by *** (nothing the runner prints shows one). */
  scrub(text: string): string {
    return this.secrets.reduce((t, pw) => t.split(pw).join('***'), text);
  }

  private args(args: string[], profile?: string): string[] {
    return [...this.cmd.slice(1), '-p', this.project, '-f', COMPOSE_FILE, ...(profile ? ['--profile', profile] : []), ...args];
  }

  /**
   * Run compose; its stderr (progress, the scripts' log and the server's messages) goes to ours
   * as it comes and is kept; resolves with stdout, or rejects with a ComposeError whose message
   * carries the server's messages.
   */
  run(args: string[], { profile, timeoutMs }: { profile?: string; timeoutMs: number }): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.cmd[0], this.args(args, profile), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let partial = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const lines = (partial + d).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) process.stderr.write(this.scrub(line) + '\n');
      });
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (partial) process.stderr.write(this.scrub(partial) + '\n');
        if (code === 0) return resolve(this.scrub(out));
        const messages = serverMessages(err);
        const what = `compose ${describe(args)} failed (${signal ?? `exit ${code}`})`;
        const detail = messages.length ? messages.join(' | ') : out.trim() || err.trim().split('\n').slice(-3).join(' | ');
        reject(new ComposeError(this.scrub(detail ? `${what}: ${detail}` : what), code, this.scrub(out), this.scrub(err)));
      });
    });
  }

  /** Start the stack's servers; pull the image only when it is missing (an offline rerun works). */
  up(stack: Stack): Promise<string> {
    // docker-compose v1 has no --pull; its up pulls only missing images anyway
    const pull = this.cmd[1] === 'compose' ? ['--pull', 'missing'] : [];
    return this.run(['up', '-d', ...pull, ...stack.servers], { profile: stack.profile, timeoutMs: 30 * 60_000 });
  }

  /** A script of ./scripts inside the stack's setup service (the image's sqlcmd, the private network). */
  script(stack: Stack, script: string, args: string[] = [], timeoutMs = 10 * 60_000): Promise<string> {
    return this.run(['run', '--rm', '-T', '--no-deps', stack.service, `/scripts/${script}`, ...args], { profile: stack.profile, timeoutMs });
  }

  stop(stack: Stack, server: string): Promise<string> {
    return this.run(['stop', '-t', '30', server], { profile: stack.profile, timeoutMs: 120_000 });
  }

  start(stack: Stack, server: string): Promise<string> {
    return this.run(['start', server], { profile: stack.profile, timeoutMs: 120_000 });
  }

  /** Remove every container, network and volume of the project (all profiles). Synchronous: also used on a signal. */
  downSync(): void {
    const all = ['--profile', 'ag', 'down', '-v', '--remove-orphans', '-t', '5'];
    spawnSync(this.cmd[0], this.args(all), { env: this.env, stdio: 'inherit', timeout: 180_000 });
  }
}

/** Rows of one query as sa through the published port (mssql, an independent client). */
async function query(port: number, password: string, text: string): Promise<Record<string, unknown>[]> {
  const pool = new sql.ConnectionPool({
    server: '127.0.0.1', port, user: 'sa', password, database: 'master',
    options: { encrypt: false, trustServerCertificate: true }, connectionTimeout: 10_000, requestTimeout: 30_000,
  });
  await pool.connect();
  try {
    return (await pool.request().query(text)).recordset;
  } finally {
    await pool.close();
  }
}

async function waitForPort(name: string, port: number, password: string, limitMs = 180_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await query(port, password, 'SELECT 1 AS one');
      return;
    } catch (err) {
      if (Date.now() - start > limitMs) throw new Error(`${name} does not answer on 127.0.0.1:${port} after ${limitMs / 1000}s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

/** The topologies of the scenarios, on a running stack. Roles are read from the servers each time. */
function dockerFactory(compose: Compose, stack: Stack, secrets: Secrets): (kind: TopologyKind) => Promise<DockerTopology> {
  const endpoint = (server: string): Endpoint => ({ host: '127.0.0.1', port: compose.ports[server] });
  const logins: Record<LoginKind, Credentials> = {
    monitor: { user: 'monitor', password: secrets.monitor },
    monitor_full: { user: 'monitor_full', password: secrets.monitorFull },
    sysadmin: { user: 'sa', password: secrets.sa },
  };
  const extraLogins = { monitor_nostate: { user: 'monitor_nostate', password: secrets.monitorNostate } };
  const one = async (server: string, text: string): Promise<string | null> => {
    const rows = await query(compose.ports[server], secrets.sa, text);
    const v = rows[0] ? Object.values(rows[0])[0] : null;
    return v === null || v === undefined ? null : String(v);
  };
  /** Which of the stack's two servers holds `role` (by the query), and which the other. */
  const order = async (text: string, role: string): Promise<[string, string]> => {
    const [a, b] = stack.servers;
    const ra = await one(a, text);
    const rb = await one(b, text);
    if (ra === role) return [a, b];
    if (rb === role) return [b, a];
    throw new Error(`neither ${a} (${ra}) nor ${b} (${rb}) is ${role}`);
  };
  const agWait = () => compose.script(stack, 'ag-wait.sh', ['agdb', ...stack.servers]);

  return async (kind: TopologyKind): Promise<DockerTopology> => {
    let roles: Partial<Record<ServerRole, string>>;
    let failover: () => Promise<void>;
    if (kind === 'mirroring') {
      const [p, m] = await order("SELECT mirroring_role_desc FROM sys.database_mirroring WHERE database_id = DB_ID('appdb')", 'PRINCIPAL');
      roles = { principal: p, mirror: m };
      failover = async () => void (await compose.script(stack, 'mirror-failover.sh', ['appdb', ...stack.servers]));
    } else if (kind === 'ag') {
      const [p, s] = await order('SELECT role_desc FROM sys.dm_hadr_availability_replica_states WHERE is_local = 1', 'PRIMARY');
      roles = { primary: p, secondary: s };
      failover = async () => void (await compose.script(stack, 'ag-failover.sh', ['ag1', 'agdb', ...stack.servers]));
    } else {
      roles = { standalone: 'sqla' };
      failover = async () => {
        throw new Error('a standalone server has no failover');
      };
    }
    const firstRole: ServerRole = kind === 'mirroring' ? 'principal' : kind === 'ag' ? 'primary' : 'standalone';
    const serverOf = (role: ServerRole): string => {
      const s = roles[role];
      if (!s) throw new Error(`the ${kind} topology has no ${role} server`);
      return s;
    };
    // what close() must do to put the servers back, newest first
    const undo: { key: string; run: () => Promise<unknown> }[] = [];
    const endpoints: Partial<Record<ServerRole, Endpoint>> = {};
    for (const [role, server] of Object.entries(roles)) endpoints[role as ServerRole] = endpoint(server);

    const act = async (a: Action): Promise<void> => {
      const server = serverOf(a.server);
      if (a.do === 'db-state') {
        await compose.script(stack, 'db-state.sh', [server, a.database, a.state]);
        const back = a.state === 'OFFLINE' ? 'ONLINE' : a.state === 'READ_ONLY' ? 'READ_WRITE' : undefined;
        const key = `db ${server} ${a.database}`;
        for (let i = undo.length - 1; i >= 0; i--) if (undo[i].key === key) undo.splice(i, 1);
        if (back) undo.push({ key, run: () => compose.script(stack, 'db-state.sh', [server, a.database, back]) });
      } else if (a.do === 'hadr') {
        await compose.script(stack, 'hadr-data-movement.sh', [server, a.database, a.op]);
        const key = `hadr ${server} ${a.database}`;
        for (let i = undo.length - 1; i >= 0; i--) if (undo[i].key === key) undo.splice(i, 1);
        if (a.op === 'SUSPEND') undo.push({ key, run: () => compose.script(stack, 'hadr-data-movement.sh', [server, a.database, 'RESUME']) });
      } else if (a.do === 'stop') {
        await compose.stop(stack, server);
        undo.push({ key: `container ${server}`, run: async () => { await compose.start(stack, server); await agWait(); } });
        // the other replica notices only after its session timeout: wait until it shows the loss
        const other = stack.servers.find((s) => s !== server);
        if (kind === 'ag' && other) await compose.script(stack, 'ag-partner-lost.sh', [other]);
      } else {
        await compose.start(stack, server);
        await agWait();
        for (let i = undo.length - 1; i >= 0; i--) if (undo[i].key === `container ${server}`) undo.splice(i, 1);
      }
    };
    return {
      kind, endpoints, logins, extraLogins, timeoutSeconds: 15, failover, act,
      setOffline: (database) => act({ do: 'db-state', server: firstRole, database, state: 'OFFLINE' }),
      async close() {
        // The next scenario starts from servers as they were; a failover is not undone (roles are read anew).
        while (undo.length) await undo.pop()!.run();
      },
    };
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string', multiple: true }, scenario: { type: 'string', multiple: true }, keep: { type: 'boolean' } },
  });
  const picked = (name: string) => !values.scenario || values.scenario.some((s) => name.includes(s));
  const stacks = STACKS.filter((s) => !values.only || values.only.includes(s.name));
  const shared = scenarios.filter((s) => picked(s.name));
  const extra = dockerScenarios.filter((s) => picked(s.name));
  // A private 0700 folder for the env files (mkdtemp makes it so)
  const envDir = mkdtempSync(join(tmpdir(), 'mssql-docker-'));
  const secrets = makeSecrets();
  const ports = { sqla: await freePort(), sqlb: await freePort(), sqlag1: await freePort(), sqlag2: await freePort() };
  writeEnvFiles(envDir, secrets);
  const compose = new Compose(envDir, ports, secrets);
  let passed = 0;
  let failed = 0;
  let skipped = 0;

  let tornDown = false;
  const teardown = () => {
    if (tornDown || values.keep) return;
    tornDown = true;
    console.log(`test-docker: removing the containers of ${compose.project}`);
    compose.downSync();
  };
  const cleanup = () => {
    if (!values.keep) rmSync(envDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      teardown();
      cleanup();
      process.exit(1);
    });
  }

  try {
    for (const stack of stacks) {
      const work = stack.parts
        .map((part) => ({ part, shared: shared.filter((s) => part.kinds.includes(s.topology)), extra: extra.filter((s) => part.kinds.includes(s.topology)) }))
        .filter((w) => w.shared.length + w.extra.length > 0);
      if (work.length === 0) continue;
      const names = (w: (typeof work)[number]) => [...w.shared, ...w.extra].map((s) => s.name);
      const count = work.reduce((n, w) => n + names(w).length, 0);
      console.log(`\n== ${stack.name}: ${stack.servers.join(', ')} (${count} scenarios)`);
      try {
        await compose.up(stack);
      } catch (err) {
        console.log(`test-docker: the ${stack.name} stack did not come up: ${(err as Error).message}`);
        for (const w of work) for (const n of names(w)) console.log(`not ok - ${n} (the ${stack.name} stack did not come up)`);
        failed += count;
        if (!values.keep) compose.downSync();
        continue;
      }
      const factory = dockerFactory(compose, stack, secrets);
      for (const w of work) {
        try {
          await compose.script(stack, w.part.setup);
          for (const s of w.part.servers) await waitForPort(s, ports[s as keyof typeof ports], secrets.sa);
        } catch (err) {
          if (err instanceof ComposeError && err.status === NOT_SUPPORTED) {
            // the engine's own words, which the script printed on stdout
            const words = err.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' ') || serverMessages(err.stderr).join(' | ');
            console.log(`test-docker: the engine refuses ${w.part.name}: ${words}`);
            for (const n of names(w)) console.log(`skip - ${n} (not supported here: ${words})`);
            skipped += names(w).length;
          } else {
            console.log(`test-docker: the ${w.part.name} setup failed: ${(err as Error).message}`);
            for (const n of names(w)) console.log(`not ok - ${n} (the ${w.part.name} setup failed: ${(err as Error).message})`);
            failed += names(w).length;
          }
          continue;
        }
        const report = async (name: string, run: () => Promise<void>) => {
          try {
            await run();
            console.log(`ok - ${name}`);
            passed++;
          } catch (err) {
            const message = compose.scrub((err as Error).message);
            console.log(`not ok - ${message.startsWith(name) ? message : `${name}: ${message}`}`);
            failed++;
          }
        };
        const log = (line: string) => console.log(compose.scrub(line));
        for (const s of w.shared) await report(s.name, () => runner(BINARY, factory, s, log));
        for (const s of w.extra) await report(s.name, () => runDockerScenario(BINARY, factory, s, log));
      }
      if (!values.keep) compose.downSync();
    }
  } finally {
    teardown();
    cleanup();
  }
  if (values.keep) {
    console.log(`test-docker: left running; the env files (0600) are in ${envDir}; remove everything with: ` +
      `MSSQL_ENV_DIR=${envDir} ${compose.cmd.join(' ')} -p ${compose.project} -f ${COMPOSE_FILE} --profile ag down -v; rm -r ${envDir}`);
  }
  console.log(`\nSQL Server 2022 scenarios: ${passed} passed, ${failed} failed, ${skipped} skipped (not supported here)`);
  if (failed > 0 || passed + skipped === 0) return 1;
  return skipped > 0 ? 2 : 0;
}

if (import.meta.main) process.exitCode = await main();
