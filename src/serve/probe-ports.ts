// TCP probe ports (probe-port = N, probe-role = primary): a port that listens only while its target
// passes, so that any TCP health check (keepalived TCP_CHECK, a cloud load balancer's probe)
// follows the role, as the probe port of an availability group behind an Azure load balancer does.
// When the target stops passing, the listener is closed and every connection it accepted is reset.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { isIP } from 'node:net';
import type { Role } from '../settings.ts';

export interface ProbePort {
  target: string;
  host: string;
  port: number;
  role: Role;
}

export interface ProbeLimits {
  /** accepted connections held at once per port; more are closed by node:net at once */
  maxConnections: number;
  /** an accepted connection idle this long is closed (a probe connects and leaves) */
  idleMs: number;
}
export const PROBE_LIMITS: ProbeLimits = { maxConnections: 64, idleMs: 30_000 };

/**
 * The value of probe-port: N, or ADDR:N ([ADDR]:N for IPv6); the address defaults to the host of
 * `listen`. Returns the host and port, or the problem in words.
 */
export function parseProbePort(value: string, defaultHost: string): { host: string; port: number } | { error: string } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]:|([0-9.]+):)?(\d{1,5})$/.exec(value.trim());
  if (!m) return { error: `expected a TCP port, or ADDRESS:PORT, not ${JSON.stringify(value)}` };
  const host = m[1] ?? m[2] ?? defaultHost;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { error: `expected a TCP port 1..65535, not ${m[3]}` };
  if ((m[1] !== undefined && isIP(host) !== 6) || (m[2] !== undefined && isIP(host) !== 4)) return { error: `${JSON.stringify(host)} is not an IP address` };
  return { host, port };
}

type State = 'closed' | 'opening' | 'open' | 'closing';
interface Slot {
  spec: ProbePort;
  want: boolean;
  state: State;
  server: Server | null;
  sockets: Set<Socket>;
  /** the last listen error, logged once until the port opens */
  failed: string | null;
}

const keyOf = (p: ProbePort) => `${p.host}\0${p.port}`;
const where = (p: ProbePort) => (p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`);

/**
 * The probe ports of the daemon. set() says which ports should listen now; each port then opens or
 * closes on its own, one transition at a time, and follows the latest wish when that one is done.
 */
export class ProbePorts {
  private slots = new Map<string, Slot>();
  private readonly log: (line: string) => void;
  private readonly limits: ProbeLimits;

  constructor(log: (line: string) => void, limits: ProbeLimits = PROBE_LIMITS) {
    this.log = log;
    this.limits = limits;
  }

  /** Every probe port with whether its target passes now; ports not named any more are closed. */
  set(ports: { spec: ProbePort; pass: boolean; reason: string }[]): void {
    const named = new Set<string>();
    for (const { spec, pass, reason } of ports) {
      const k = keyOf(spec);
      named.add(k);
      let slot = this.slots.get(k);
      if (!slot) {
        slot = { spec, want: false, state: 'closed', server: null, sockets: new Set(), failed: null };
        this.slots.set(k, slot);
      }
      if (slot.want !== pass) {
        this.log(`probe port ${where(spec)} (${spec.target} ${spec.role}): ${pass ? 'opens' : 'closes'}${pass ? '' : `: ${reason}`}`);
      }
      slot.spec = spec;
      slot.want = pass;
      this.step(k, slot);
    }
    for (const [k, slot] of this.slots) {
      if (!named.has(k)) {
        slot.want = false;
        this.step(k, slot);
      }
    }
  }

  /** Whether a port is listening now (for the page and the tests). */
  isOpen(spec: Pick<ProbePort, 'host' | 'port'>): boolean {
    return this.slots.get(`${spec.host}\0${spec.port}`)?.state === 'open';
  }

  /** Close every port and reset every connection. */
  async close(): Promise<void> {
    for (const slot of this.slots.values()) slot.want = false;
    await Promise.all([...this.slots.entries()].map(([k, s]) => new Promise<void>((resolve) => {
      const wait = () => (s.state === 'closed' ? resolve() : setTimeout(wait, 5));
      this.step(k, s);
      wait();
    })));
    this.slots.clear();
  }

  private step(k: string, slot: Slot): void {
    if (slot.state === 'opening' || slot.state === 'closing') return; // the transition under way calls back
    if (slot.want && slot.state === 'closed') this.open(k, slot);
    else if (!slot.want && slot.state === 'open') this.shut(k, slot);
  }

  private open(k: string, slot: Slot): void {
    slot.state = 'opening';
    const server = createServer({ noDelay: true }, (sock) => {
      if (slot.state !== 'open') return resetOrDestroy(sock);
      slot.sockets.add(sock);
      sock.setTimeout(this.limits.idleMs, () => sock.destroy());
      sock.on('data', () => { /* a probe's bytes are not read */ });
      sock.on('error', () => sock.destroy());
      sock.on('close', () => slot.sockets.delete(sock));
    });
    server.maxConnections = this.limits.maxConnections;
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (slot.state !== 'opening') return;
      const msg = `probe port ${where(slot.spec)} (${slot.spec.target}): cannot listen: ${err.code ?? err.message}`;
      if (slot.failed !== msg) this.log(msg);
      slot.failed = msg;
      slot.state = 'closed';
      slot.server = null;
      // tried again at the next set() while the target still passes
    });
    server.listen({ host: slot.spec.host, port: slot.spec.port, exclusive: true }, () => {
      slot.server = server;
      slot.state = 'open';
      slot.failed = null;
      this.step(k, slot);
    });
  }

  private shut(k: string, slot: Slot): void {
    slot.state = 'closing';
    const server = slot.server!;
    // stop accepting first, then reset what was accepted (RST: the peer learns at once)
    server.close(() => {
      slot.server = null;
      slot.state = 'closed';
      this.step(k, slot);
    });
    for (const s of slot.sockets) resetOrDestroy(s);
    slot.sockets.clear();
  }
}

/**
 * RST a connection that is still open both ways; one the peer has already half-closed is only
 * destroyed (Node 24 spins in its event loop on resetAndDestroy() of a socket whose peer has sent
 * FIN and whose own end was written, readyState 'closed' but not yet destroyed).
 */
function resetOrDestroy(s: Socket): void {
  if (s.readyState === 'open') s.resetAndDestroy();
  else s.destroy();
}
