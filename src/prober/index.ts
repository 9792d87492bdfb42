// The probe: log in, ask the one question, hang up. Loaded only when a check actually runs, so
// --help, --version and bad options never pay for loading the SQL Server driver.
import type { Connection } from 'tedious';
import type { ProbeContext, ProbeResult } from './types.ts';
import { openConnection, ProbeFailure, describeError } from './connection.ts';
import { queryFacts } from './facts-query.ts';

export type { ProbeContext, ProbeResult } from './types.ts';

export async function probe(ctx: ProbeContext): Promise<ProbeResult> {
  let conn: Connection | undefined;
  try {
    conn = await openConnection(ctx);
    ctx.phases.enter('query');
    const facts = await queryFacts(conn, ctx.settings.databases);
    return { ok: true, facts };
  } catch (err) {
    return { ok: false, error: err instanceof ProbeFailure ? err.error : describeError(err) };
  } finally {
    conn?.close();
  }
}
