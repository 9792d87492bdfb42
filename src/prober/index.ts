// The probe: log in, ask the one question, hang up. Loaded only when a check actually runs, so
// --help, --version and bad options never pay for loading the SQL Server driver.
import type { Connection } from 'tedious';
import type { ProbeContext, ProbeResult, ProbeError } from './types.ts';
import type { DatabaseFacts } from '../facts.ts';
import { openConnection, ProbeFailure, describeError } from './connection.ts';
import { catalogFor, queryFacts } from './facts-query.ts';

export type { ProbeContext, ProbeResult, ProbeError } from './types.ts';
// the daemon takes ProbeFailure from here: in the bundle, the probe chunk's own class
export { ProbeFailure };

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

/** A logged-in connection kept open by the daemon (src/serve/poller.ts): one login, then the facts query per poll. */
export interface Session {
  /** the facts query on this connection; rejects with a ProbeFailure */
  facts(databases: string[]): Promise<DatabaseFacts[]>;
  /** true until the connection ends (closed by either side, or lost) */
  readonly open: boolean;
  close(): void;
}

/**
 * Log in as the one-shot does (openConnection: resolver, Browser, TLS and every guard), and keep
 * the connection. `onEnd` is called once when it ends by itself, with why.
 */
export async function openSession(ctx: ProbeContext, onEnd: (error: ProbeError) => void): Promise<Session> {
  let conn: Connection;
  try {
    conn = await openConnection(ctx);
  } catch (err) {
    throw err instanceof ProbeFailure ? err : new ProbeFailure(describeError(err));
  }
  const catalog = catalogFor(conn.config.options.tdsVersion);
  let open = true;
  let closing = false;
  let lastError: ProbeError | undefined;
  conn.on('error', (err: unknown) => { lastError = err instanceof ProbeFailure ? err.error : describeError(err); });
  conn.on('end', () => {
    open = false;
    if (!closing) onEnd(lastError ?? { code: 'ESOCKET', message: 'Connection lost - the server closed the connection' });
  });
  return {
    get open() { return open; },
    async facts(databases) {
      if (!open) throw new ProbeFailure(lastError ?? { code: 'ESOCKET', message: 'Connection lost' });
      try {
        return await queryFacts(conn, databases, catalog);
      } catch (err) {
        throw err instanceof ProbeFailure ? err : new ProbeFailure(describeError(err));
      }
    },
    close() {
      closing = true;
      open = false;
      conn.close();
    },
  };
}
