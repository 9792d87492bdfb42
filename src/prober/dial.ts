// TCP to the first of a host's addresses that answers, as RFC 8305 (Happy Eyeballs v2) connects:
// IPv6 and IPv4 interleaved, IPv6 first; the next attempt starts when one fails or 250 ms after
// the last one started, earlier ones still running; the first to connect wins and the others are
// destroyed. A black-holed address costs 250 ms, not the deadline.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Address } from './resolve.ts';

/** RFC 8305 section 5's Connection Attempt Delay (its recommended value). */
export const ATTEMPT_DELAY_MS = 250;

/** IPv6 first, then the families take turns, each in its own order (RFC 8305 section 4). */
export function interleave(addresses: Address[]): Address[] {
  const v6 = addresses.filter((a) => a.family === 6);
  const v4 = addresses.filter((a) => a.family === 4);
  const out: Address[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]);
    if (i < v4.length) out.push(v4[i]);
  }
  return out;
}

/** A failure to reach any address; `timedOut` when the deadline came first. */
export class DialError extends Error {
  readonly timedOut: boolean;
  constructor(message: string, timedOut: boolean) {
    super(message);
    this.timedOut = timedOut;
  }
}

/** The connected socket of the first address that answers, before `remainingMs()` runs out. */
export function dial(addresses: Address[], port: number, remainingMs: () => number,
  { signal, attemptDelayMs = ATTEMPT_DELAY_MS }: { signal?: AbortSignal; attemptDelayMs?: number } = {}): Promise<Socket> {
  const order = interleave(addresses);
  const queue = [...order];
  return new Promise((resolve, reject) => {
    const pending = new Set<Socket>();
    const failures: string[] = [];
    let settled = false;
    let next: NodeJS.Timeout | undefined;

    const end = (winner: Socket | undefined, err?: DialError) => {
      if (settled) return;
      settled = true;
      clearTimeout(next);
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      for (const s of pending) if (s !== winner) s.destroy();
      if (winner) resolve(winner);
      else reject(err);
    };
    const timeUp = () => {
      const tried = failures.length > 0 ? ` (${failures.join('; ')})` : '';
      end(undefined, new DialError(`no answer from ${order.map((a) => a.address).join(', ')} port ${port}${tried}`, true));
    };
    const left = remainingMs();
    const deadline = setTimeout(timeUp, Math.max(0, left));

    // the driver gave up (its own timeout, or the connection closed)
    const onAbort = () => end(undefined, new DialError(`connecting abandoned (${String(signal?.reason)})`, false));
    signal?.addEventListener('abort', onAbort, { once: true });

    const attempt = () => {
      clearTimeout(next);
      const a = queue.shift();
      if (!a || settled) return;
      // noDelay: each TDS message (and the TLS handshake inside PRELOGIN, written a record at a
      // time) goes out at once, not held by Nagle's algorithm for the server's delayed ACK
      const socket = connect({ host: a.address, family: a.family, port, noDelay: true });
      pending.add(socket);
      const onError = (err: Error) => {
        pending.delete(socket);
        socket.destroy();
        failures.push(err.message);
        if (settled) return;
        if (queue.length > 0) attempt();
        else if (pending.size === 0) end(undefined, new DialError(failures.join('; '), false));
      };
      socket.on('error', onError);
      socket.once('connect', () => {
        socket.removeListener('error', onError);
        end(socket);
      });
      if (queue.length > 0) next = setTimeout(attempt, attemptDelayMs);
    };
    if (left <= 0) timeUp();
    else if (signal?.aborted) onAbort();
    else if (queue.length === 0) end(undefined, new DialError('no address to connect to', false));
    else attempt();
  });
}
