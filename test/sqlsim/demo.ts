// make demo: two simulated SQL Servers on loopback as a database mirroring pair for appdb, each
// asked by FreeTDS tsql which role it plays; then the pair fails over and they are asked again.
// Ctrl-C (or any error) stops both servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMirroredPair, type MirroredPair, type SqlSim } from './server.ts';
import { scenarioFile } from './catalog.ts';
import { makeTestCertificates } from './certs.ts';
import { haveTsql, tsql } from './freetds.ts';

const DATABASE = 'appdb';
const QUERY = `SELECT d.name, d.state_desc, m.mirroring_role_desc, m.mirroring_state_desc, m.mirroring_partner_instance
FROM sys.databases AS d JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
WHERE d.name = N'${DATABASE}'`;

const say = (line = '') => process.stdout.write(line + '\n');

let pair: MirroredPair | undefined;
const dir = mkdtempSync(join(tmpdir(), 'sqlsim-demo-'));

async function stop(code: number): Promise<never> {
  await pair?.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => void stop(130).then(() => {}));
process.on('SIGTERM', () => void stop(143).then(() => {}));

async function ask(sim: SqlSim, password: string): Promise<void> {
  const name = sim.engine.scenario.server.name;
  const r = await tsql({ host: sim.host, port: sim.port, user: 'sa', password, encryption: 'request', statements: [QUERY], dir });
  const rows = r.out.split('\n').filter((l) => l.startsWith(`${DATABASE}\t`));
  if (rows.length !== 1) {
    say(`  ${name}: unexpected answer from tsql:\n${r.out}`);
    return stop(1);
  }
  const [, state, role, mirroringState, partner] = rows[0].split('\t');
  say(`  ${name} (${sim.host}:${sim.port}): ${DATABASE} is ${state}, mirroring role ${role}, ${mirroringState}, partner ${partner}`);
}

async function main(): Promise<void> {
  if (!haveTsql()) {
    say('The demo needs FreeTDS tsql: install the Debian package freetds-bin (make deps does).');
    return stop(1);
  }
  const principal = scenarioFile('principal');
  const mirror = scenarioFile('mirror');
  // The simulated logins' throwaway password; it travels to tsql on its stdin, never in argv.
  const password = principal.logins.find((l) => l.name === 'sa')!.password;
  const certs = makeTestCertificates(join(dir, 'tls'));

  say('sqlsim demo: a database mirroring pair, simulated on loopback.');
  say('Each server speaks TDS 7.4 (TLS protects the login) and answers queries from a catalog');
  say('laid out like SQL Server\'s (sys.databases, sys.database_mirroring, ...).');
  say();
  pair = await startMirroredPair({ principal, mirror, encryption: 'off', tls: { cert: certs.cert, key: certs.key } });
  for (const sim of pair.servers) say(`Started ${sim.engine.scenario.server.name} on ${sim.host}:${sim.port}`);
  say();
  say(`Asking each server with FreeTDS tsql (an independent TDS client):`);
  say(QUERY.split('\n').map((l) => `    ${l}`).join('\n'));
  for (const sim of pair.servers) await ask(sim, password);
  say();
  say(`Failing over (what ALTER DATABASE ${DATABASE} SET PARTNER FAILOVER does): the roles swap.`);
  pair.failover();
  for (const sim of pair.servers) await ask(sim, password);
  say();
  say(`A load balancer's health check sends traffic only to the server whose copy is PRINCIPAL: now ${pair.principal.engine.scenario.server.name}.`);
  say('Stopping both servers.');
  return stop(0);
}

main().catch((err: Error) => {
  say(`demo failed: ${err.message}`);
  void stop(1);
});
