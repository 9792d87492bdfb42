// make demo: the built check against two simulated SQL Servers on loopback that mirror "appdb".
// The principal passes (exit 0), the mirror fails (exit 1); after a failover the verdicts swap.
// Ctrl-C (or any error) stops both servers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMirroredPair } from './sqlsim/server.ts';
import type { MirroredPair, SqlSim } from './sqlsim/server.ts';
import { scenarioFile } from './sqlsim/catalog.ts';
import { makeTestCertificates } from './sqlsim/certs.ts';
import { BIN_X64 } from './helpers/paths.ts';

const say = (line = '') => process.stdout.write(line + '\n');
const dir = mkdtempSync(join(tmpdir(), 'mssql-role-check-demo-'));
let pair: MirroredPair | undefined;
/** the demo CA, which the check is given with --ca-file */
let caFile = '';

async function stop(code: number): Promise<never> {
  await pair?.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => void stop(130));
process.on('SIGTERM', () => void stop(143));

/** Run the binary as keepalived would, with -v so the demo shows why; returns its exit code. */
function check(sim: SqlSim, passwordFile: string): Promise<number> {
  const args = ['--host', sim.host, '--port', String(sim.port), '--database', 'appdb',
    '--user', 'sa', '--password-file', passwordFile, '--timeout', '3', '--ca-file', caFile, '-v'];
  say(`$ mssql-role-check ${args.join(' ').replaceAll(dir, '$DEMO')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(BIN_X64, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => process.stdout.write('  ' + d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function round(title: string, passwordFile: string): Promise<void> {
  say(title);
  for (const sim of pair!.servers) {
    const name = sim.engine.scenario.server.name;
    const code = await check(sim, passwordFile);
    say(`  → exit ${code}: ${code === 0 ? `send traffic to ${name}` : `keep traffic away from ${name}`}`);
    say();
  }
}

async function main(): Promise<void> {
  const principal = scenarioFile('principal');
  const mirror = scenarioFile('mirror');
  // The simulated login's throwaway password, handed over in a 0600 file as an operator would.
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, principal.logins.find((l) => l.name === 'sa')!.password + '\n', { mode: 0o600 });

  // TLS, as the check runs by default: the servers' certificate is signed by a CA of the demo's own
  const certs = makeTestCertificates(join(dir, 'certs'));
  caFile = certs.caFile;
  pair = await startMirroredPair({ principal, mirror, tls: { cert: certs.cert, key: certs.key }, encryption: 'off' });
  say('mssql-role-check demo: a load balancer must send connections for "appdb" only to the');
  say('server that holds the writable copy. Two simulated SQL Servers on loopback mirror it:');
  for (const sim of pair.servers) say(`  ${sim.engine.scenario.server.name} at ${sim.host}:${sim.port}`);
  say();
  await round('keepalived would run, for each server:', passwordFile);
  say('Now the pair fails over (ALTER DATABASE appdb SET PARTNER FAILOVER): the roles swap.');
  pair.failover();
  say();
  await round('The same checks again:', passwordFile);
  say('Exit 0 means "send traffic here"; every other case exits 1 (see --help and README.md).');
  return stop(0);
}

main().catch((err: Error) => {
  say(`demo failed: ${err.message}`);
  void stop(1);
});
