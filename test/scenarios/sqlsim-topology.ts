// The scenarios' topologies on sqlsim (test/sqlsim/), built on its public API: the scenario files
// of test/sqlsim/scenarios/, startSqlSim and startMirroredPair, and the catalog changes of
// test/sqlsim/scenarios.ts. Every topology is new servers on loopback ports, closed by close().
import { startMirroredPair, startSqlSim } from '../sqlsim/server.ts';
import type { SqlSim } from '../sqlsim/server.ts';
import { scenarioFile, setDatabaseState, setReplicaRole } from '../sqlsim/scenarios.ts';
import type { Scenario } from '../sqlsim/types.ts';
import type { Credentials, LoginKind, Topology, TopologyFactory } from './cases.ts';

function credentials(s: Scenario): Record<LoginKind, Credentials> {
  const find = (name: string): Credentials => {
    const login = s.logins.find((l) => l.name === name);
    if (!login) throw new Error(`sqlsim scenario ${s.server.name} has no login ${name}`);
    return { user: login.name, password: login.password };
  };
  return { monitor: find('monitor'), monitor_full: find('monitor_full'), sysadmin: find('sa') };
}

const at = (sim: SqlSim) => ({ host: sim.host, port: sim.port });

function takeOffline(sim: SqlSim, database: string): void {
  sim.setScenario(setDatabaseState(sim.engine.scenario, database, 'OFFLINE'));
}

export const sqlsimTopology: TopologyFactory = async (kind): Promise<Topology> => {
  if (kind === 'mirroring') {
    const principal = scenarioFile('principal');
    const pair = await startMirroredPair({ principal, mirror: scenarioFile('mirror'), host: '127.0.0.1' });
    const [a, b] = pair.servers;
    return {
      kind, endpoints: { principal: at(a), mirror: at(b) }, logins: credentials(principal), timeoutSeconds: 5,
      failover: async () => pair.failover(),
      setOffline: async (db) => takeOffline(a, db),
      close: () => pair.close(),
    };
  }
  if (kind === 'ag') {
    // The AG's manual failover, as the catalog sees it: the primary's replica becomes SECONDARY,
    // the synchronous secondary's PRIMARY.
    const primary = scenarioFile('ag-primary');
    const a = await startSqlSim({ scenario: primary, host: '127.0.0.1' });
    const b = await startSqlSim({ scenario: scenarioFile('ag-secondary-sync'), host: '127.0.0.1' }).catch(async (err) => {
      await a.close();
      throw err;
    });
    return {
      kind, endpoints: { primary: at(a), secondary: at(b) }, logins: credentials(primary), timeoutSeconds: 5,
      failover: async () => {
        a.setScenario(setReplicaRole(a.engine.scenario, 'SECONDARY'));
        b.setScenario(setReplicaRole(b.engine.scenario, 'PRIMARY'));
      },
      setOffline: async (db) => takeOffline(a, db),
      close: async () => void (await Promise.all([a.close(), b.close()])),
    };
  }
  const scenario = scenarioFile('standalone');
  const sim = await startSqlSim({ scenario, host: '127.0.0.1' });
  return {
    kind, endpoints: { standalone: at(sim) }, logins: credentials(scenario), timeoutSeconds: 5,
    failover: async () => {
      throw new Error('a standalone server has no failover');
    },
    setOffline: async (db) => takeOffline(sim, db),
    close: () => sim.close(),
  };
};
