// The probe: log in, ask the one question, hang up. Loaded only when a check actually runs, so
// --help, --version and bad options never pay for loading the SQL Server driver.
import type { Connection } from 'tedious';
import type { ProbeContext, ProbeResult } from './types.ts';
import { openConnection, ProbeFailure, describeError } from './connection.ts';
import { catalogFor, queryFacts } from './facts-query.ts';

export type { ProbeContext, ProbeResult } from './types.ts';

export async function probe(ctx: ProbeContext): Promise<ProbeResult> {
  let conn: Connection | undefined;
  try {
    conn = await openConnection(ctx);
    ctx.phases.enter('query');
    // tedious keeps the TDS version the server answered in LOGINACK in its (public) config
    const facts = await queryFacts(conn, ctx.settings.databases, catalogFor(conn.config.options.tdsVersion));
    return { ok: true, facts };
  } catch (err) {
    return { ok: false, error: err instanceof ProbeFailure ? err.error : describeError(err) };
  } finally {
    conn?.close();
  }
}
