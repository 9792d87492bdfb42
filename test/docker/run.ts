// `make test-docker`: runs the scenarios of test/scenarios/cases.ts — the very list the sqlsim
// suite runs — against real SQL Server 2022 containers (compose.yaml beside this file) with the
// built binary. Brings each stack up, waits until the servers answer, runs the scenarios of that
// stack, and tears it down, also on failure or Ctrl-C. See README.md.
//
//   node test/docker/run.ts [--only mirroring|ag] [--scenario SUBSTRING] [--keep]
//
// The passwords are made here at run time and written to a 0600 env file in a temporary folder
// that compose hands to the containers; nothing secret is committed or put on an argv.
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
import type { Endpoint, LoginKind, Credentials, ServerRole, Topology, TopologyFactory, TopologyKind } from '../scenarios/cases.ts';
import { runScenario } from '../scenarios/run.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const COMPOSE_FILE = join(HERE, 'compose.yaml');
const BINARY = join(HERE, '../../dist/mssql-role-check-linux-x64');

/** The list this runner runs: the shared one, not a copy (test/docker.test.ts checks the identity). */
export const scenarios = SCENARIOS;
export const runner = runScenario;

/** A compose stack and the scenarios that run on it. */
export interface Stack {
  name: 'mirroring' | 'ag';
  profile?: string;
  servers: string[];
  setup: string;
  kinds: TopologyKind[];
}

export const STACKS: readonly Stack[] = [
  // salesdb, the standalone scenarios' database, lives on sqla, in neither mirroring nor an AG
  { name: 'mirroring', servers: ['sqla', 'sqlb'], setup: 'mirroring-setup', kinds: ['mirroring', 'standalone'] },
  { name: 'ag', profile: 'ag', servers: ['sqlag1', 'sqlag2'], setup: 'ag-setup', kinds: ['ag'] },
];

export interface Secrets {
  sa: string;
  monitor: string;
  monitorFull: string;
  dbmKey: string;
}

/** A password SQL Server's policy accepts (upper, lower, digit, symbol), safe in an env file and a T-SQL N'' literal. */
export function makePassword(): string {
  return `Aa1-${randomBytes(18).toString('base64url')}`;
}

/** Write the env file compose gives to every container: mode 0600, in a folder of the caller's. */
export function writeEnvFile(dir: string, secrets: Secrets): string {
  const file = join(dir, 'sql.env');
  writeFileSync(file, [
    `MSSQL_SA_PASSWORD=${secrets.sa}`,
    `MONITOR_PASSWORD=${secrets.monitor}`,
    `MONITOR_FULL_PASSWORD=${secrets.monitorFull}`,
    `DBM_KEY_PASSWORD=${secrets.dbmKey}`,
  ].join('\n') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
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

  constructor(envFile: string, ports: Record<string, number>) {
    this.ports = ports;
    this.env = {
      ...process.env, MSSQL_ENV_FILE: envFile,
      SQLA_PORT: String(ports.sqla), SQLB_PORT: String(ports.sqlb),
      SQLAG1_PORT: String(ports.sqlag1), SQLAG2_PORT: String(ports.sqlag2),
    };
  }

  private args(args: string[], profile?: string): string[] {
    return [...this.cmd.slice(1), '-p', this.project, '-f', COMPOSE_FILE, ...(profile ? ['--profile', profile] : []), ...args];
  }

  /** Run compose; stderr (progress, the scripts' log) goes to ours; resolves with stdout. */
  run(args: string[], { profile, timeoutMs }: { profile?: string; timeoutMs: number }): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.cmd[0], this.args(args, profile), { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`compose ${args.slice(0, 4).join(' ')} failed (${signal ?? `exit ${code}`})${out ? `: ${out.trim()}` : ''}`));
      });
    });
  }

  /** A script of ./scripts inside the stack's setup service (the image's sqlcmd, the private network). */
  script(stack: Stack, script: string, args: string[] = [], timeoutMs = 10 * 60_000): Promise<string> {
    return this.run(['run', '--rm', '-T', stack.setup, `/scripts/${script}`, ...args], { profile: stack.profile, timeoutMs });
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

/** The Topology of the scenarios, on a running stack. Roles are read from the servers each time. */
function dockerFactory(compose: Compose, stack: Stack, secrets: Secrets): TopologyFactory {
  const endpoint = (server: string): Endpoint => ({ host: '127.0.0.1', port: compose.ports[server] });
  const logins: Record<LoginKind, Credentials> = {
    monitor: { user: 'monitor', password: secrets.monitor },
    monitor_full: { user: 'monitor_full', password: secrets.monitorFull },
    sysadmin: { user: 'sa', password: secrets.sa },
  };
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

  return async (kind: TopologyKind): Promise<Topology> => {
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
    const first = roles.principal ?? roles.primary ?? roles.standalone!;
    const offline: string[] = [];
    const endpoints: Partial<Record<ServerRole, Endpoint>> = {};
    for (const [role, server] of Object.entries(roles)) endpoints[role as ServerRole] = endpoint(server);
    return {
      kind, endpoints, logins, timeoutSeconds: 15, failover,
      async setOffline(database) {
        await compose.script(stack, 'db-state.sh', [first, database, 'OFFLINE']);
        offline.push(database);
      },
      async close() {
        // The next scenario starts from ONLINE databases; a failover is not undone (roles are read anew).
        for (const db of offline.splice(0)) await compose.script(stack, 'db-state.sh', [first, db, 'ONLINE']);
      },
    };
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string', multiple: true }, scenario: { type: 'string' }, keep: { type: 'boolean' } },
  });
  const stacks = STACKS.filter((s) => !values.only || values.only.includes(s.name));
  const selected = scenarios.filter((s) => !values.scenario || s.name.includes(values.scenario));
  const tmp = mkdtempSync(join(tmpdir(), 'mssql-docker-'));
  const secrets: Secrets = { sa: makePassword(), monitor: makePassword(), monitorFull: makePassword(), dbmKey: makePassword() };
  const ports = { sqla: await freePort(), sqlb: await freePort(), sqlag1: await freePort(), sqlag2: await freePort() };
  const compose = new Compose(writeEnvFile(tmp, secrets), ports);
  let passed = 0;
  let failed = 0;

  let tornDown = false;
  const teardown = () => {
    if (tornDown || values.keep) return;
    tornDown = true;
    console.log(`test-docker: removing the containers of ${compose.project}`);
    compose.downSync();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      teardown();
      rmSync(tmp, { recursive: true, force: true });
      process.exit(1);
    });
  }

  try {
    for (const stack of stacks) {
      const mine = selected.filter((s) => stack.kinds.includes(s.topology));
      if (mine.length === 0) continue;
      console.log(`\n== ${stack.name}: ${stack.servers.join(', ')} (${mine.length} scenarios)`);
      try {
        await compose.run(['pull', ...stack.servers], { profile: stack.profile, timeoutMs: 30 * 60_000 });
        await compose.run(['up', '-d', ...stack.servers], { profile: stack.profile, timeoutMs: 5 * 60_000 });
        await compose.script(stack, `setup-${stack.name}.sh`);
        for (const s of stack.servers) await waitForPort(s, ports[s as keyof typeof ports], secrets.sa);
      } catch (err) {
        console.log(`test-docker: the ${stack.name} stack did not come up: ${(err as Error).message}`);
        for (const s of mine) console.log(`not ok - ${s.name} (the ${stack.name} stack did not come up)`);
        failed += mine.length;
        if (!values.keep) compose.downSync();
        continue;
      }
      const factory = dockerFactory(compose, stack, secrets);
      for (const s of mine) {
        try {
          await runner(BINARY, factory, s, (line) => console.log(line));
          console.log(`ok - ${s.name}`);
          passed++;
        } catch (err) {
          console.log(`not ok - ${(err as Error).message}`);
          failed++;
        }
      }
      if (!values.keep) compose.downSync();
    }
  } finally {
    teardown();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (values.keep) {
    console.log(`test-docker: left running; remove with: ${compose.cmd.join(' ')} -p ${compose.project} -f ${COMPOSE_FILE} ` +
      '--profile ag down -v (with MSSQL_ENV_FILE set to any env file)');
  }
  console.log(`\nSQL Server 2022 scenarios: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main();
