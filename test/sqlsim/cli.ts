// sqlsim as a process of its own (the demo, keepalived in network namespaces, HAProxy):
//
//   node test/sqlsim/cli.ts --scenario FILE|NAME [--host 127.0.0.1] [--port 0]
//        [--encryption none|off|on|required|strict] [--tls-dir DIR | --cert FILE --key FILE]
//        [--tls-version 1.0|1.1]                          a server without TLS 1.2 (2008-2014 unpatched)
//        [--partner-scenario FILE|NAME --partner-port P]     a mirrored pair in one process
//        [--fault NAME|JSON] [--delay MS]
//        [--browser-port N --instance NAME]                   a SQL Server Browser for the instance
//        [--control stdin|SOCKET-PATH]
//
// It prints "listening HOST:PORT" once per server when ready ("browser HOST:PORT" for the
// Browser). Control commands, one per line, as words or JSON ({"cmd":"state","database":"appdb",
// "state":"OFFLINE"}); each is answered by one line starting with "ok" or "error":
//   status                                  stats and open connections, as JSON
//   load FILE|NAME [a|b]                    replace a server's scenario
//   state DATABASE STATE [a|b]              sys.databases state_desc (ONLINE, OFFLINE, RESTORING …)
//   mirroring DATABASE STATE [a|b]          mirroring_state_desc (SYNCHRONIZED, SUSPENDED …)
//   role ROLE [a|b]                         the local availability replica's role (PRIMARY, SECONDARY, RESOLVING)
//   failover                                fail the mirrored pair over (needs --partner-scenario)
//   fault NAME|none [JSON-OPTIONS] [a|b]    e.g. fault delay {"ms":3000}
//   stop                                    close everything and exit 0
// Without [a|b] a command applies to every server. With --control stdin, end of input stops too.

import { existsSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import minimist from 'minimist';
import type { Scenario } from './types.ts';
import { failover, loadScenario, scenarioFile, setDatabaseState, setMirroringState, setReplicaRole } from './catalog.ts';
import { startSqlSim, type EncryptionMode, type SqlSim, type TlsVersions } from './server.ts';
import { parseFault, type Fault } from './faults.ts';
import { makeTestCertificates } from './certs.ts';
import { startBrowser, type Browser } from './browser.ts';

const ENCRYPTION_MODES = ['none', 'off', 'on', 'required', 'strict'];

function usage(message: string): never {
  process.stderr.write(`sqlsim: ${message}\n`);
  process.exit(2);
}

function scenarioFrom(arg: string): Scenario {
  if (existsSync(arg)) return loadScenario(arg);
  if (/^[\w-]+$/.test(arg)) return scenarioFile(arg);
  throw new Error(`no scenario file ${arg}`);
}

export class Controller {
  readonly servers: SqlSim[];
  private readonly stop: () => Promise<void>;

  constructor(servers: SqlSim[], stop: () => Promise<void>) {
    this.servers = servers;
    this.stop = stop;
  }

  private targets(which: string | undefined): SqlSim[] {
    if (which === undefined) return this.servers;
    const index = which === 'a' || which === '0' ? 0 : which === 'b' || which === '1' ? 1 : -1;
    if (!this.servers[index]) throw new Error(`no server '${which}' (a${this.servers.length > 1 ? ' or b' : ''})`);
    return [this.servers[index]];
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** One command line → one answer line; commands run one after the other, in the order received. */
  handle(line: string): Promise<string> {
    const answer = this.queue.then(() => this.answer(line));
    this.queue = answer;
    return answer;
  }

  private async answer(line: string): Promise<string> {
    try {
      return `ok${await this.run(line.trim())}`;
    } catch (err) {
      return `error ${(err as Error).message.replace(/\s+/g, ' ')}`;
    }
  }

  private async run(line: string): Promise<string> {
    let cmd: string;
    let a: Record<string, unknown>;
    if (line.startsWith('{')) {
      a = JSON.parse(line) as Record<string, unknown>;
      cmd = String(a.cmd);
    } else {
      const words = line.match(/\{.*\}|\S+/g) ?? [];
      cmd = words[0] ?? '';
      const rest = words.slice(1);
      const named: Record<string, string[]> = {
        load: ['file', 'server'], state: ['database', 'state', 'server'], mirroring: ['database', 'state', 'server'],
        role: ['role', 'server'], fault: ['fault', 'options', 'server'],
      };
      a = {};
      // fault NAME [a|b] without options
      if (cmd === 'fault' && rest.length === 2 && !rest[1].startsWith('{')) rest.splice(1, 0, '{}');
      (named[cmd] ?? []).forEach((key, i) => { if (rest[i] !== undefined) a[key] = rest[i]; });
    }
    const server = a.server === undefined ? undefined : String(a.server);
    const each = (change: (s: Scenario) => Scenario) => {
      for (const sim of this.targets(server)) sim.setScenario(change(sim.engine.scenario));
    };
    switch (cmd) {
      case '':
        throw new Error('empty command');
      case 'status':
        return ' ' + JSON.stringify(this.servers.map((s) => ({ port: s.port, server: s.engine.scenario.server.name, fault: s.fault?.name ?? null, open: s.openConnections(), ...s.stats })));
      case 'load': {
        if (a.scenario === undefined && a.file === undefined) throw new Error('load needs a scenario file');
        if (server === undefined && this.servers.length > 1) throw new Error('load: which server, a or b?');
        const scenario = (a.scenario as Scenario | undefined) ?? scenarioFrom(String(a.file));
        for (const sim of this.targets(server)) sim.setScenario(scenario);
        return '';
      }
      case 'state':
        each((s) => setDatabaseState(s, String(a.database), String(a.state)));
        return '';
      case 'mirroring':
        each((s) => setMirroringState(s, String(a.database), String(a.state)));
        return '';
      case 'role':
        each((s) => setReplicaRole(s, String(a.role)));
        return '';
      case 'failover': {
        if (this.servers.length !== 2) throw new Error('failover needs a mirrored pair (--partner-scenario)');
        const [x, y] = this.servers;
        const [sx, sy] = failover(x.engine.scenario, y.engine.scenario);
        x.setScenario(sx);
        y.setScenario(sy);
        return '';
      }
      case 'fault': {
        const name = String(a.fault ?? 'none');
        const options = typeof a.options === 'string' ? (JSON.parse(a.options) as object) : ((a.options as object | undefined) ?? {});
        const fault: Fault | undefined = name === 'none' ? undefined : parseFault({ ...options, name });
        for (const sim of this.targets(server)) await sim.setFault(fault);
        return '';
      }
      case 'stop':
        setImmediate(() => void this.stop());
        return ' stopping';
    }
    throw new Error(`unknown command '${cmd}'`);
  }
}

async function main(): Promise<void> {
  const argv = minimist(process.argv.slice(2), {
    string: ['scenario', 'host', 'port', 'encryption', 'tls-dir', 'cert', 'key', 'partner-scenario', 'partner-port', 'fault', 'delay', 'browser-port', 'instance', 'control', 'tls-version'],
    unknown: (arg) => (arg.startsWith('-') ? usage(`unknown option ${arg}`) : true),
  });
  if (!argv.scenario) usage('--scenario FILE is required');
  const encryption = (argv.encryption ?? 'none') as EncryptionMode;
  if (!ENCRYPTION_MODES.includes(encryption)) usage(`--encryption must be one of ${ENCRYPTION_MODES.join(', ')}`);
  let tls: { cert: string; key: string } | undefined;
  if (argv.cert || argv.key) {
    if (!argv.cert || !argv.key) usage('--cert and --key go together');
    const { readFileSync } = await import('node:fs');
    tls = { cert: readFileSync(argv.cert, 'utf8'), key: readFileSync(argv.key, 'utf8') };
  } else if (encryption !== 'none') {
    if (!argv['tls-dir']) usage(`--encryption ${encryption} needs --tls-dir DIR (certificates are made there) or --cert/--key`);
    const certs = makeTestCertificates(argv['tls-dir']);
    tls = { cert: certs.cert, key: certs.key };
  }
  let tlsVersions: TlsVersions | undefined;
  if (argv['tls-version'] !== undefined) {
    const only = ({ '1.0': 'TLSv1', '1.1': 'TLSv1.1' } as const)[argv['tls-version'] as string];
    if (!only) usage('--tls-version must be 1.0 or 1.1 (the only version the server speaks)');
    if (!tls) usage('--tls-version needs --encryption off|on|required');
    tlsVersions = { min: only, max: only };
  }
  const host = argv.host ?? '127.0.0.1';
  const fault = argv.fault ? parseFault(argv.fault.startsWith('{') ? JSON.parse(argv.fault) : argv.fault) : undefined;
  const common = { host, encryption, tls, tlsVersions, fault, replyDelayMs: argv.delay ? Number(argv.delay) : undefined };

  const servers: SqlSim[] = [];
  let browser: Browser | undefined;
  let controlServer: net.Server | undefined;
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(servers.map((s) => s.close()));
    await browser?.close();
    controlServer?.close();
    if (argv.control && argv.control !== 'stdin') rmSync(argv.control, { force: true });
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());

  try {
    servers.push(await startSqlSim({ ...common, scenario: scenarioFrom(argv.scenario), port: Number(argv.port ?? 0) }));
    if (argv['partner-scenario']) {
      servers.push(await startSqlSim({ ...common, scenario: scenarioFrom(argv['partner-scenario']), port: Number(argv['partner-port'] ?? 0) }));
    }
    if (argv['browser-port'] !== undefined) {
      if (!argv.instance) usage('--browser-port needs --instance NAME');
      browser = await startBrowser({
        host,
        port: Number(argv['browser-port']),
        serverName: servers[0].engine.scenario.server.name.split('\\')[0],
        instances: [{ name: argv.instance, port: servers[0].port }],
      });
    }
  } catch (err) {
    process.stderr.write(`sqlsim: ${(err as Error).message}\n`);
    await stop(1);
    return;
  }

  const controller = new Controller(servers, () => stop());
  if (argv.control === 'stdin') {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => void controller.handle(line).then((answer) => process.stdout.write(answer + '\n')));
    rl.on('close', () => void stop());
  } else if (argv.control) {
    rmSync(argv.control, { force: true });
    controlServer = net.createServer((socket) => {
      socket.on('error', () => {});
      createInterface({ input: socket }).on('line', (line) => void controller.handle(line).then((answer) => socket.write(answer + '\n')));
    });
    await new Promise<void>((resolve) => controlServer!.listen(argv.control, resolve));
  }
  for (const s of servers) process.stdout.write(`listening ${s.host}:${s.port}\n`);
  if (browser) process.stdout.write(`browser ${browser.host}:${browser.port}\n`);
}

if (import.meta.main) await main();
