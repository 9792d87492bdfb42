// HAProxy agent-check on agent-listen: HAProxy connects, sends one line (agent-send "sql1 primary\n":
// a target, a role, and the HTTP path's query options as name=value words), and reads one line
// back, the whole state at once, as HAProxy's configuration manual ("agent-check") reads it: words
// separated by spaces, a health word (up, down), an admin word (ready, drain), a weight "N%", and
// after '#' a description shown on the stats page. Then the connection is closed.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Answer } from './state.ts';

export interface AgentRequest {
  target: string;
  role: string;
  /** the options after the role, as the HTTP path's query parameters */
  params: URLSearchParams;
}

/** What the daemon answers to one request, or why it cannot be asked. */
export type AgentResolution =
  | {
    answer: Answer;
    /** the answer with the maintenance file left out, when the target is drained: up or down under the drain */
    undrained?: Answer;
    /** the target's weight (0..253), sent as the percentage of HAProxy's configured weight */
    weight?: number;
  }
  | { error: string };

export interface AgentLimits {
  /** the longest request line accepted, in bytes (CR LF included) */
  maxLineBytes: number;
  /** time to wait for the request line */
  readTimeoutMs: number;
  /** connections at once; more are refused by the kernel-side close of node:net */
  maxConnections: number;
}

export const AGENT_LIMITS: AgentLimits = { maxLineBytes: 512, readTimeoutMs: 2000, maxConnections: 64 };

/** The longest description sent after '#' (HAProxy shows it on the stats page and in its log). */
export const MAX_REASON = 200;

/** A request line: TARGET ROLE [name=value ...], values %-encoded as in a query string. */
export function parseAgentLine(line: string): AgentRequest | { error: string } {
  const words = line.split(/[ \t]+/).filter((w) => w !== '');
  if (words.length === 0) return { error: 'empty request line: configure agent-send "TARGET ROLE\\n"' };
  if (words.length < 2) return { error: `no role after target ${shown(words[0])}: agent-send "TARGET ROLE\\n"` };
  const [target, role, ...rest] = words;
  const params = new URLSearchParams();
  for (const w of rest) {
    const eq = w.indexOf('=');
    if (eq <= 0) return { error: `option ${shown(w)} is not name=value` };
    let value: string;
    try {
      value = decodeURIComponent(w.slice(eq + 1)); // as in a query string: database=my%20db
    } catch {
      return { error: `option ${shown(w)}: bad %-encoding` };
    }
    params.append(w.slice(0, eq), value);
  }
  return { target, role, params };
}

/** One line of printable ASCII, bounded: a value HAProxy shows as it is. */
export function oneLine(s: string, max = MAX_REASON): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > max ? ascii.slice(0, max - 3) + '...' : ascii;
}
const shown = (s: string) => JSON.stringify(oneLine(s, 40));

/** The reply line (without its LF). */
export function agentReply(r: AgentResolution): string {
  if ('error' in r) return `down #${oneLine(r.error)}`;
  const { answer: a } = r;
  if (a.pass) return `up ready ${r.weight ?? 100}%`;
  if (a.status === 404) {
    // drained: new connections stop (DRAIN), and the health under it is still the verdict's
    const u = r.undrained;
    if (u?.pass) return `up drain #${oneLine(a.reason)}`;
    return `down drain #${oneLine(u ? `${a.reason}; ${u.reason}` : a.reason)}`;
  }
  return `down #${oneLine(a.reason)}`;
}

/**
 * The agent listener. Each connection: read one line within readTimeoutMs and maxLineBytes, answer
 * it, close. A connection that sends nothing, too much, or closes early gets "down #..." (when it
 * can still be written to) and is closed; none stays open past the read timeout.
 */
export function agentServer(resolve: (req: AgentRequest) => AgentResolution, limits: AgentLimits = AGENT_LIMITS): Server {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => serve(sock, resolve, limits));
  server.maxConnections = limits.maxConnections;
  return server;
}

function serve(sock: Socket, resolve: (req: AgentRequest) => AgentResolution, limits: AgentLimits): void {
  let buf = Buffer.alloc(0);
  let done = false;
  const finish = (line: string) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.removeAllListeners('data');
    sock.end(line + '\n');
    // the peer may never read or close: do not wait for it past the read timeout
    setTimeout(() => sock.destroy(), limits.readTimeoutMs).unref();
  };
  const timer = setTimeout(() => finish(`down #${oneLine(`no request line within ${limits.readTimeoutMs} ms: configure agent-send "TARGET ROLE\\n"`)}`), limits.readTimeoutMs);
  sock.on('error', () => { clearTimeout(timer); sock.destroy(); });
  sock.on('close', () => clearTimeout(timer));
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.findIndex((b) => b === 0x0a || b === 0x0d);
    if (nl < 0) {
      if (buf.length >= limits.maxLineBytes) finish(`down #request line longer than ${limits.maxLineBytes} bytes`);
      return;
    }
    if (nl >= limits.maxLineBytes) return finish(`down #request line longer than ${limits.maxLineBytes} bytes`);
    finish(replyTo(buf.subarray(0, nl), resolve));
  });
  // a client that half-closes without a line end: its bytes are the line
  sock.on('end', () => {
    if (done) return;
    if (buf.length === 0) return finish('down #empty request: configure agent-send "TARGET ROLE\\n"');
    finish(replyTo(buf, resolve));
  });
}

function replyTo(raw: Buffer, resolve: (req: AgentRequest) => AgentResolution): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(raw);
  if (/[\x00-\x08\x0a-\x1f\x7f\ufffd]/.test(text)) return 'down #the request line has a control character or is not UTF-8';
  const req = parseAgentLine(text);
  if ('error' in req) return agentReply(req);
  try {
    return agentReply(resolve(req));
  } catch (err) {
    // never a stack trace to the load balancer, and never an "up"
    return `down #${oneLine(`internal error: ${err instanceof Error ? err.message : String(err)}`)}`;
  }
}
