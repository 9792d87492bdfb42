// A tiny QueryEngine for tests of the TDS layer alone: it answers a handful of fixed queries
// with every column type the TDS layer encodes, so a protocol test does not depend on the catalog.

import type { QueryEngine, Scenario, Session, StatementResult, Value } from './types.ts';
import { SqlError } from './types.ts';

export const FAKE_SCENARIO: Scenario = {
  server: { name: 'SIMFAKE', productVersion: '16.0.4135.4' },
  // A throwaway password for a simulated login; it protects nothing.
  logins: [
    { name: 'probe', password: 'sim-Pass-1', sysadmin: true },
    // a Windows login: the simulated domain account's password is checked through NTLMv2
    { name: 'CORP\\winprobe', password: 'sim-Win-Pass-1', viewServerState: true },
  ],
  databases: [
    { name: 'master', database_id: 1, state_desc: 'ONLINE' },
    { name: 'appdb', database_id: 5, state_desc: 'ONLINE' },
    { name: 'offlinedb', database_id: 6, state_desc: 'OFFLINE' },
  ],
};

export const TYPES_ROW: Value[] = [
  2147483647, -32768, 255, 9007199254740993n, true, 'héllo wörld', '6F9619FF-8B86-D011-B42D-00C04FC964FF',
  new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 100)), 'ONLINE', 42,
];

/** What the fake engine saw last, for assertions on parameter decoding. */
export interface FakeCall {
  sql: string;
  params: Record<string, Value>;
  session: Session;
}

export class FakeEngine implements QueryEngine {
  scenario: Scenario;
  calls: FakeCall[] = [];

  constructor(scenario: Scenario = FAKE_SCENARIO) {
    this.scenario = scenario;
  }

  load(scenario: Scenario): void {
    this.scenario = scenario;
  }

  execute(sql: string, params: Record<string, Value>, session: Session): StatementResult[] {
    this.calls.push({ sql, params, session });
    const text = sql.trim().toLowerCase();
    if (/^set\s/.test(text) || text === '') return [];
    // mssql's pool validates each new connection with this.
    if (text === 'select 1;' || text === 'select 1') return [{ columns: [{ name: '', type: 'int', nullable: false }], rows: [[1]] }];
    if (text === 'select types') {
      return [{
        columns: [
          { name: 'i', type: 'int', nullable: false },
          { name: 's', type: 'smallint', nullable: false },
          { name: 't', type: 'tinyint', nullable: true },
          { name: 'b', type: 'bigint', nullable: true },
          { name: 'bit', type: 'bit', nullable: false },
          { name: 'n', type: 'nvarchar', length: 128, nullable: true },
          { name: 'g', type: 'uniqueidentifier', nullable: true },
          { name: 'd', type: 'datetime', nullable: false },
          { name: 'v1', type: 'sql_variant', nullable: true },
          { name: 'v2', type: 'sql_variant', nullable: true },
        ],
        rows: [TYPES_ROW, [0, 0, null, null, false, null, null, new Date(Date.UTC(1900, 0, 1)), null, null]],
      }];
    }
    if (text === 'select databases') {
      return [{
        columns: [{ name: 'name', type: 'nvarchar', length: 128, nullable: false }, { name: 'database_id', type: 'int', nullable: false }],
        rows: this.scenario.databases.map((d) => [d.name, d.database_id]),
      }];
    }
    if (text.startsWith('select echo')) {
      // Returns each parameter as a sql_variant row (name, value).
      return [{
        columns: [{ name: 'name', type: 'nvarchar', length: 128, nullable: false }, { name: 'value', type: 'sql_variant', nullable: true }],
        rows: Object.entries(params).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
      }];
    }
    if (text.startsWith('select many')) {
      const n = Number(text.split(/\s+/)[2] ?? 1000);
      return [{ columns: [{ name: 'n', type: 'int', nullable: false }, { name: 'pad', type: 'nvarchar', length: 100, nullable: false }], rows: Array.from({ length: n }, (_, i) => [i, 'p'.repeat(100)]) }];
    }
    if (text.startsWith('update')) return [{ rowCount: 3 }];
    if (text === 'select two') {
      return [
        { columns: [{ name: 'a', type: 'int', nullable: false }], rows: [[1]] },
        { columns: [{ name: 'b', type: 'int', nullable: false }], rows: [[2], [3]] },
      ];
    }
    if (text.includes('no_such_column')) throw new SqlError(207, "Invalid column name 'no_such_column'.", 16, 1);
    if (text.includes('fatal')) throw new SqlError(50000, 'fatal error for a test', 20, 1);
    throw new SqlError(208, `Invalid object name '${text.slice(0, 40)}'.`, 16, 1);
  }
}
