// sqlsim's TDS server: speaks TDS 7.4 (plain, TLS inside PRELOGIN, TDS 8.0 strict TLS) on
// node:net and answers requests with a QueryEngine (the catalog). Faults can be switched on
// per server while it runs.

import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Login, QueryEngine, ResultSet, Scenario, Session, StatementResult, Value } from './types.ts';
import { SqlError, SqlErrors } from './types.ts';
import { Catalog, failover } from './catalog.ts';
import { tdsVersionOf } from './schema.ts';
import { DEFAULT_COLLATION, sameName, scenarioCollation } from './collation.ts';
import { checkFault, type Fault, type FaultPhase } from './faults.ts';
import { DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE, PacketReader, PacketType, PacketWriter, ProtocolError, Status, hex, type Message } from './tds/packets.ts';
import { Encrypt, buildPrelogin, negotiateEncryption, parsePrelogin, type EncryptionMode } from './tds/prelogin.ts';
import { Feature, parseLogin7, type Login7 } from './tds/login7.ts';
import { ProcId, parseRpc, parseSqlBatch, procName, type RpcCall } from './tds/requests.ts';
import { UnsupportedType } from './tds/types.ts';
import * as T from './tds/tokens.ts';
import { buildChallenge, ntlmMessageType, parseAuthenticate, verifyNtlmv2 } from './tds/ntlm.ts';
import { FlightCollector, HANDSHAKE_FAILURE_ALERT, createServerTls, effectiveVersions, type ServerTls, type TlsVersions } from './tds/tls.ts';

export type { EncryptionMode } from './tds/prelogin.ts';
export type { TlsVersion, TlsVersions } from './tds/tls.ts';

export interface SqlSimOptions {
  scenario: Scenario;
  /** the query engine; default: the catalog (new Catalog(scenario)) */
  engine?: QueryEngine;
  host?: string;
  port?: number;
  /**
   * 'none': no certificate (ENCRYPT_NOT_SUP); 'off': TLS for the login only unless the client
   * asks for more (SQL Server's default); 'on' / 'required': Force Encryption (answers ON / REQ);
   * 'strict': TDS 8.0 only, TLS first. All but 'none' also accept TDS 8.0 clients. Default:
   * 'off' when `tls` is given, else 'none'.
   */
  encryption?: EncryptionMode;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * The TLS versions the server speaks (see TlsVersions in tds/tls.ts for the rules and their
   * sources), e.g. { min: 'TLSv1', max: 'TLSv1' } for SQL Server 2008-2014 without the TLS 1.2
   * update. Default: TLS 1.2, and 1.3 with TDS 8.0.
   */
  tlsVersions?: TlsVersions;
  fault?: Fault;
  replyDelayMs?: number;
  /**
   * Result columns (by name) sent as varchar in the default collation (code page 1252) instead
   * of nvarchar, as from a server whose views declare them so: a client must decode them in
   * their code page.
   */
  varcharColumns?: string[];
  /** debug lines (connection events, protocol errors) */
  log?: (line: string) => void;
}

export interface SqlSimStats {
  connections: number;
  logins: number;
  loginFailures: number;
  batches: number;
  rpcs: number;
  attentions: number;
  /** TLS handshakes completed: inside PRELOGIN packets (TDS 7.x) and TLS-first (TDS 8.0) */
  tlsHandshakes: number;
  strictHandshakes: number;
  /** completed handshakes by the version negotiated ('TLSv1', 'TLSv1.2', …) */
  tlsProtocols: Record<string, number>;
  packetsIn: number;
  /** TDS messages received (a message longer than the packet size spans several packets) */
  messagesIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface SqlSim {
  readonly host: string;
  readonly port: number;
  readonly engine: QueryEngine;
  readonly encryption: EncryptionMode;
  readonly stats: SqlSimStats;
  readonly fault: Fault | undefined;
  setScenario(scenario: Scenario): void;
  /** Takes effect for the next event on every connection; 'refuse' closes the listener. */
  setFault(fault: Fault | undefined): Promise<void>;
  /** Number of open client connections. */
  openConnections(): number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

const SYSTEM_DATABASES = ['master', 'tempdb', 'model', 'msdb'];
const loginFailed = (user: string) => `Login failed for user '${user}'.`;
const UNTRUSTED_DOMAIN = { number: 18452, severity: 14, message: 'Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.' };

export async function startSqlSim(options: SqlSimOptions): Promise<SqlSim> {
  const engine = options.engine ?? new Catalog(options.scenario);
  if (options.engine) options.engine.load(options.scenario);
  const encryption: EncryptionMode = options.encryption ?? (options.tls ? 'off' : 'none');
  if (encryption !== 'none' && !options.tls) throw new Error(`encryption '${encryption}' needs tls: { cert, key }`);
  if (options.fault) checkFault(options.fault);
  if (options.tlsVersions) {
    effectiveVersions(options.tlsVersions, encryption === 'strict'); // throws on an empty range
    const old = options.tlsVersions.max === 'TLSv1' || options.tlsVersions.max === 'TLSv1.1';
    if (old && encryption === 'strict') throw new Error(`encryption 'strict' (TDS 8.0, SQL Server 2022 and later) needs TLS 1.2, not ${options.tlsVersions.max} at most`);
  }
  const core = new SimCore(engine, encryption, options);
  await core.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  if (options.fault) await core.setFault(options.fault);
  return core;
}

class SimCore implements SqlSim {
  readonly engine: QueryEngine;
  readonly encryption: EncryptionMode;
  readonly tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  readonly tlsVersions: TlsVersions | undefined;
  /** false for a server that speaks only TLS 1.0 or 1.1 */
  readonly speaksTls12: boolean;
  readonly replyDelayMs: number;
  readonly log: (line: string) => void;
  readonly varcharColumns: ReadonlySet<string>;
  readonly stats: SqlSimStats = { connections: 0, logins: 0, loginFailures: 0, batches: 0, rpcs: 0, attentions: 0, tlsHandshakes: 0, strictHandshakes: 0, tlsProtocols: {}, packetsIn: 0, messagesIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  fault: Fault | undefined;
  host = '';
  port = 0;
  private server: net.Server;
  private listening = false;
  private closed = false;
  private readonly connections = new Set<Connection>();
  private nextSpid = 51;

  constructor(engine: QueryEngine, encryption: EncryptionMode, options: SqlSimOptions) {
    this.engine = engine;
    this.encryption = encryption;
    this.tls = options.tls;
    this.tlsVersions = options.tlsVersions;
    this.speaksTls12 = !options.tlsVersions || options.tlsVersions.max === 'TLSv1.2' || options.tlsVersions.max === 'TLSv1.3';
    this.replyDelayMs = options.replyDelayMs ?? 0;
    this.varcharColumns = new Set(options.varcharColumns);
    this.log = options.log ?? (process.env.SQLSIM_DEBUG ? (line) => process.stderr.write(`sqlsim: ${line}\n`) : () => {});
    this.server = this.newServer();
  }

  private newServer(): net.Server {
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.on('error', (err) => this.log(`listener error: ${err.message}`));
    return server;
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', onError);
        const address = this.server.address() as net.AddressInfo;
        this.host = host;
        this.port = address.port;
        this.listening = true;
        resolve();
      });
    });
  }

  private async stopListening(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const old = this.server;
    this.server = this.newServer();
    await new Promise<void>((resolve) => old.close(() => resolve()));
  }

  async setFault(fault: Fault | undefined): Promise<void> {
    if (fault) checkFault(fault);
    this.fault = fault;
    if (this.closed) return;
    if (fault?.name === 'refuse') await this.stopListening();
    else if (!this.listening) await this.listen(this.host, this.port);
    if (fault?.name === 'idle-garbage') for (const c of this.connections) c.sendIdleGarbage();
  }

  setScenario(scenario: Scenario): void {
    this.engine.load(scenario);
  }

  get scenario(): Scenario {
    return this.engine.scenario;
  }

  openConnections(): number {
    return this.connections.size;
  }

  private accept(socket: net.Socket): void {
    this.stats.connections++;
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (this.fault?.name === 'reset-on-accept') {
      socket.on('error', () => {});
      socket.resetAndDestroy();
      return;
    }
    const spid = this.nextSpid++;
    const connection = new Connection(this, socket, spid);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await this.stopListening();
  }
}

type State = 'initial' | 'prelogin' | 'tls-handshake' | 'login' | 'sspi' | 'ready' | 'stalled' | 'closed';

/** One client connection: a state machine fed with whole TDS messages. */
class Connection {
  private readonly sim: SimCore;
  private readonly socket: net.Socket;
  private readonly reader = new PacketReader();
  private readonly writer: PacketWriter;
  private state: State = 'initial';
  private tls: ServerTls | undefined;
  private flights: FlightCollector | undefined;
  private flightTimer: NodeJS.Timeout | undefined;
  /** the client's bytes are TLS records */
  private inTls = false;
  /** our replies go out through TLS */
  private outTls = false;
  /** ENCRYPT_OFF negotiated: only LOGIN7 travels inside TLS */
  private loginOnlyTls = false;
  private tlsDropped = false;
  private session: Session | undefined;
  private loginDatabase = 'master';
  private pendingNtlm: { login: Login7; serverChallenge: Buffer } | undefined;
  private negotiatedPacketSize = DEFAULT_PACKET_SIZE;
  /** the login was answered with a routing ENVCHANGE */
  private routed = false;
  private chain: Promise<void> = Promise.resolve();
  private pendingReply: { cancel: () => void } | undefined;
  private readonly name: string;
  /** messages received and not yet answered */
  private unanswered = 0;

  constructor(sim: SimCore, socket: net.Socket, spid: number) {
    this.sim = sim;
    this.socket = socket;
    this.writer = new PacketWriter(spid);
    this.name = `#${spid} ${socket.remoteAddress}:${socket.remotePort}`;
    if (sim.fault?.name === 'black-hole') this.state = 'stalled';
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('error', (err) => this.sim.log(`${this.name}: socket error ${err.message}`));
    socket.on('close', () => this.cleanup());
  }

  private get fault(): Fault | undefined {
    return this.sim.fault;
  }

  /** The fault, when it strikes this request: a fault aimed with `on` at another kind does not. */
  private faultFor(request: Message): Fault | undefined {
    const f = this.fault;
    if (f?.on === undefined) return f;
    const kind = request.type === PacketType.SQL_BATCH ? 'batch' : request.type === PacketType.RPC ? 'rpc' : undefined;
    return f.on === kind ? f : undefined;
  }

  private faultAt(name: 'garbage' | 'truncated-packet', phase: FaultPhase): boolean {
    const f = this.fault;
    return f?.name === name && (f.phase ?? 'query') === phase;
  }

  destroy(): void {
    this.state = 'closed';
    this.socket.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    this.state = 'closed';
    this.pendingReply?.cancel();
    if (this.flightTimer) clearTimeout(this.flightTimer);
    if (this.tls) {
      this.tlsDropped = true;
      this.tls.app.destroy();
      this.tls.wire.destroy();
    }
  }

  private protocolError(why: string): void {
    this.sim.log(`${this.name}: protocol error: ${why}; closing`);
    this.destroy();
  }

  // ------------------------------------------------------------------------------- input

  private onSocketData(chunk: Buffer): void {
    this.sim.stats.bytesIn += chunk.length;
    if (this.state === 'closed' || this.state === 'stalled') return;
    if (this.state === 'initial') {
      if (chunk[0] === 0x16) {
        // A TLS ClientHello first: TDS 8.0 (MS-TDS 3.3.5.1).
        if (this.sim.encryption === 'none') return this.protocolError('TLS ClientHello but the server has no certificate');
        // TDS 8.0 came with SQL Server 2022 (16.x) ("TDS 8.0", Microsoft Learn: SQL Server 2022 and
        // later); an older server reads the ClientHello as a malformed PRELOGIN and closes.
        if (this.version()[0] < 16) return this.protocolError(`TLS ClientHello, but SQL Server ${this.productVersion()} has no TDS 8.0`);
        // TDS 8.0 came with SQL Server 2022 ("TLS 1.3 support"), which has TLS 1.2; a server
        // without TLS 1.2 is 2014 or older (KB3135244) and takes the ClientHello for a bad packet.
        if (!this.sim.speaksTls12) return this.protocolError('TLS ClientHello (TDS 8.0) but the server predates TDS 8.0 (no TLS 1.2)');
        if (this.fault?.name === 'tls-handshake-failure') return this.failHandshake(false);
        this.startTls(true);
      } else if (this.sim.encryption === 'strict') {
        return this.protocolError('strict encryption: the client did not start with TLS');
      }
      this.state = 'prelogin';
    }
    if (this.inTls) this.tls?.wire.write(chunk);
    else this.onPlaintext(chunk);
  }

  private onPlaintext(chunk: Buffer): void {
    let messages: Message[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    for (const message of messages) {
      this.sim.stats.packetsIn += message.packets;
      this.sim.stats.messagesIn++;
      if (this.state === 'closed' || this.state === 'stalled') return;
      if (message.type === PacketType.LOGIN7 && this.inTls && this.loginOnlyTls) {
        // ENCRYPT_OFF: the login was the only encrypted message; the client continues in plain.
        this.inTls = false;
        this.tlsDropped = true;
      }
      if (message.type === PacketType.ATTENTION) {
        this.attention();
        continue;
      }
      this.unanswered++;
      this.chain = this.chain.then(() => this.handle(message)).catch((err: Error) => {
        this.sim.log(`${this.name}: ${err.stack ?? err.message}`);
        this.destroy();
      }).finally(() => { this.unanswered--; });
    }
  }

  private async handle(message: Message): Promise<void> {
    if (this.state === 'closed' || this.state === 'stalled') return;
    const expected: Record<string, number[]> = {
      prelogin: [PacketType.PRELOGIN],
      'tls-handshake': [PacketType.PRELOGIN],
      login: [PacketType.LOGIN7],
      sspi: [PacketType.SSPI],
      ready: [PacketType.SQL_BATCH, PacketType.RPC, PacketType.TRANSACTION_MANAGER],
    };
    if (!expected[this.state]?.includes(message.type)) {
      return this.protocolError(`packet type 0x${hex(message.type)} in state ${this.state}`);
    }
    if (this.state !== 'ready') {
      // A fault aimed at a kind of request leaves PRELOGIN and LOGIN7 alone.
      if (await this.delayReply(this.fault?.on ? undefined : this.fault)) return;
    }
    switch (this.state) {
      case 'prelogin':
        return this.onPrelogin(message.payload);
      case 'tls-handshake':
        return this.onHandshakeData(message.payload);
      case 'login':
        return this.onLogin(message.payload);
      case 'sspi':
        return this.onSspi(message.payload);
      case 'ready':
        return this.onRequest(message);
    }
  }

  /** Waits out the configured reply delay (or the delay fault given); true when an ATTENTION cancelled the wait. */
  private delayReply(fault: Fault | undefined): Promise<boolean> {
    const ms = fault?.name === 'delay' ? (fault.ms ?? 1000) : this.sim.replyDelayMs;
    if (!ms) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingReply = undefined;
        resolve(false);
      }, ms);
      this.pendingReply = {
        cancel: () => {
          clearTimeout(timer);
          this.pendingReply = undefined;
          resolve(true);
        },
      };
    });
  }

  // ------------------------------------------------------------------------------- output

  private rawWrite(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    this.sim.stats.bytesOut += bytes.length;
    this.socket.write(bytes);
  }

  /** Packs a message, lets a 'mutate' fault rewrite it, and sends it (through TLS when active). */
  private send(type: number, payload: Buffer, phase: FaultPhase | 'tls', status = 0): void {
    if (this.state === 'closed') return;
    const before = this.writer.packetsWritten;
    let bytes = this.writer.encode(type, payload, status);
    this.sim.stats.packetsOut += this.writer.packetsWritten - before;
    if (this.fault?.name === 'mutate' && this.fault.mutate) bytes = this.fault.mutate(bytes, { phase, type });
    this.out(bytes);
  }

  private out(bytes: Buffer): void {
    if (this.outTls && this.tls) this.tls.app.write(bytes);
    else this.rawWrite(bytes);
  }

  /** garbage: one well-framed packet whose payload is no valid token stream. */
  private sendGarbage(): void {
    const junk = randomBytes(64);
    junk[0] = 0x00; // not a token type, not a PRELOGIN option
    this.send(PacketType.TABULAR_RESULT, junk, this.phase());
  }

  /** idle-garbage: unsolicited, between requests, a header announcing a 4-byte packet (less than the header itself). */
  sendIdleGarbage(): void {
    if (this.state !== 'ready' || this.unanswered > 0) return;
    const header = Buffer.from([PacketType.TABULAR_RESULT, Status.EOM, 0x00, 0x04, 0x00, 0x00, 0x01, 0x00]);
    this.sim.log(`${this.name}: idle-garbage: sending ${header.toString('hex')} unasked`);
    this.out(header);
  }

  /** truncated-packet: a header announcing more bytes than follow, then close (or stall). */
  private sendTruncated(): void {
    const packet = Buffer.alloc(8 + 40);
    packet[0] = PacketType.TABULAR_RESULT;
    packet[1] = Status.EOM;
    packet.writeUInt16BE(8 + 400, 2);
    packet.fill(0xfd, 8);
    this.out(packet);
    this.state = 'stalled';
    if (!this.fault?.stall) setTimeout(() => this.endGracefully(), 50);
  }

  private phase(): FaultPhase {
    return this.state === 'prelogin' ? 'prelogin' : this.state === 'login' || this.state === 'sspi' ? 'login' : 'query';
  }

  private endGracefully(): void {
    this.state = 'closed';
    if (this.outTls && this.tls) {
      this.tls.app.end();
      setTimeout(() => this.socket.end(), 20);
    } else {
      this.socket.end();
    }
  }

  // ------------------------------------------------------------------------------- PRELOGIN and TLS

  private onPrelogin(payload: Buffer): void {
    let client;
    try {
      client = parsePrelogin(payload);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    if (this.faultAt('garbage', 'prelogin')) return this.sendGarbage();
    if (this.faultAt('truncated-packet', 'prelogin')) return this.sendTruncated();
    const strict = this.inTls;
    const encryption = strict ? Encrypt.NOT_SUP : negotiateEncryption(this.sim.encryption, client.encryption);
    const [major, minor, build, sub] = this.version();
    this.send(PacketType.TABULAR_RESULT, buildPrelogin({ version: [major, minor, build, sub], encryption }), 'prelogin');
    if (this.fault?.name === 'stall-after-prelogin') {
      this.state = 'stalled';
    } else if (!strict && (encryption === Encrypt.OFF || encryption === Encrypt.ON || encryption === Encrypt.REQ)) {
      this.state = 'tls-handshake';
      this.loginOnlyTls = encryption === Encrypt.OFF;
    } else {
      this.state = 'login';
    }
  }

  private productVersion(): string {
    return this.sim.engine.scenario.server.productVersion ?? '16.0.4135.4';
  }

  private version(): [number, number, number, number] {
    const parts = this.productVersion().split('.').map((p) => Number.parseInt(p, 10) || 0);
    return [parts[0] ?? 16, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 0];
  }

  private failHandshake(wrapped: boolean): void {
    if (wrapped) this.send(PacketType.PRELOGIN, HANDSHAKE_FAILURE_ALERT, 'tls');
    else this.rawWrite(HANDSHAKE_FAILURE_ALERT);
    this.state = 'stalled';
    setTimeout(() => this.socket.end(), 20);
  }

  private startTls(strict: boolean): void {
    const { cert, key } = this.sim.tls!;
    const tls = (this.tls = createServerTls({ cert, key, strict, versions: this.sim.tlsVersions }));
    tls.app.on('error', (err) => {
      this.sim.log(`${this.name}: TLS error ${err.message}`);
      if (!this.tlsDropped) this.destroy();
    });
    tls.app.once('secure', () => {
      this.sim.stats.tlsHandshakes++;
      if (strict) this.sim.stats.strictHandshakes++;
      const protocol = tls.app.getProtocol() ?? 'unknown';
      this.sim.stats.tlsProtocols[protocol] = (this.sim.stats.tlsProtocols[protocol] ?? 0) + 1;
      this.sim.log(`${this.name}: TLS ${tls.app.getProtocol()}${strict ? ` ALPN ${tls.app.alpnProtocol}` : this.loginOnlyTls ? ' for the login only' : ''}`);
    });
    tls.app.on('data', (chunk: Buffer) => {
      if (!this.tlsDropped) this.onPlaintext(chunk);
    });
    if (strict) {
      this.inTls = true;
      this.outTls = true;
      tls.wire.on('data', (chunk: Buffer) => {
        if (!this.tlsDropped) this.rawWrite(chunk);
      });
      return;
    }
    const flights = (this.flights = new FlightCollector());
    tls.wire.on('data', (chunk: Buffer) => {
      if (this.tlsDropped) return;
      if (this.state !== 'tls-handshake') return this.rawWrite(chunk); // after the handshake: raw records
      for (const flight of flights.push(chunk)) this.sendFlight(flight);
      if (this.flightTimer) clearTimeout(this.flightTimer);
      // Safety net for a flight the collector did not recognise as complete.
      this.flightTimer = setTimeout(() => {
        const rest = flights.drain();
        if (rest && this.state === 'tls-handshake') this.sendFlight(rest);
      }, 250);
    });
  }

  private sendFlight(flight: Buffer): void {
    const last = this.flights?.finished ?? false;
    if (last) {
      // The client's next bytes are TLS records on the raw socket.
      this.inTls = true;
      this.outTls = !this.loginOnlyTls;
      this.state = 'login';
    }
    const before = this.writer.packetsWritten;
    let bytes = this.writer.encode(PacketType.PRELOGIN, flight);
    this.sim.stats.packetsOut += this.writer.packetsWritten - before;
    if (this.fault?.name === 'mutate' && this.fault.mutate) bytes = this.fault.mutate(bytes, { phase: 'tls', type: PacketType.PRELOGIN });
    this.rawWrite(bytes);
  }

  private onHandshakeData(payload: Buffer): void {
    if (this.fault?.name === 'tls-handshake-failure') return this.failHandshake(true);
    if (!this.tls) this.startTls(false);
    this.tls!.wire.write(payload);
  }

  // ------------------------------------------------------------------------------- LOGIN7

  private loginError(login: Login7, errors: { number: number; severity: number; message: string }[]): void {
    this.sim.stats.loginFailures++;
    const server = this.serverName();
    const tokens = errors.map((e) => T.message({ ...e, state: 1, serverName: server }));
    tokens.push(T.done(T.Token.DONE, T.DoneStatus.ERROR, 0, 0));
    this.send(PacketType.TABULAR_RESULT, Buffer.concat(tokens), 'login');
    this.sim.log(`${this.name}: login of '${login.userName}' refused: ${errors.map((e) => e.number).join(', ')}`);
    // SQL Server closes the connection after a failed login.
    this.state = 'stalled';
    setTimeout(() => this.endGracefully(), 20);
  }

  private serverName(): string {
    return this.sim.engine.scenario.server.name;
  }

  private onLogin(payload: Buffer): void {
    let login: Login7;
    try {
      login = parseLogin7(payload);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    if (this.faultAt('garbage', 'login')) return this.sendGarbage();
    if (this.faultAt('truncated-packet', 'login')) return this.sendTruncated();
    const scenario = this.sim.engine.scenario;
    const f = this.fault;
    if (login.integratedSecurity) {
      if (ntlmMessageType(login.sspi) === 1 && f?.name !== 'login-failure') {
        // NTLM: answer the NEGOTIATE with a CHALLENGE; the AUTHENTICATE comes in an SSPI message.
        const domain = scenario.logins.map((l) => l.name.split('\\')).find((parts) => parts.length === 2)?.[0] ?? 'SQLSIM';
        const challenge = buildChallenge(domain.toUpperCase(), this.serverName().split('\\')[0]);
        this.pendingNtlm = { login, serverChallenge: challenge.serverChallenge };
        this.state = 'sspi';
        this.send(PacketType.TABULAR_RESULT, T.sspi(challenge.message), 'login');
        return;
      }
      return this.loginError(login, [UNTRUSTED_DOMAIN]);
    }
    if (f?.name === 'login-failure') {
      return this.loginError(login, [{ number: f.number ?? 18456, severity: f.severity ?? 14, message: f.message ?? loginFailed(login.userName) }]);
    }
    // a SQL login's name is an instance-level identifier: it compares under the server collation
    const collation = scenarioCollation(scenario.server.collation ?? DEFAULT_COLLATION, 'server.collation');
    const account: Login | undefined = scenario.logins.find((l) => sameName(l.name, login.userName, collation) && !l.name.includes('\\'));
    if (!account || account.password !== login.password) {
      return this.loginError(login, [{ number: 18456, severity: 14, message: loginFailed(login.userName) }]);
    }
    this.completeLogin(login, account, login.userName);
  }

  /** The NTLM AUTHENTICATE message: the proof is checked against the password of the scenario's DOMAIN\user login. */
  private onSspi(payload: Buffer): void {
    const pending = this.pendingNtlm!;
    this.pendingNtlm = undefined;
    const auth = parseAuthenticate(payload);
    if (!auth) return this.protocolError('SSPI message is no NTLM AUTHENTICATE');
    const name = `${auth.domain}\\${auth.user}`;
    const account = this.sim.engine.scenario.logins.find((l) => l.name.toLowerCase() === name.toLowerCase());
    if (!account || !verifyNtlmv2(auth, pending.serverChallenge, account.password)) {
      // Windows could not authenticate the account: SQL Server reports it as an untrusted domain.
      return this.loginError(pending.login, [UNTRUSTED_DOMAIN]);
    }
    this.completeLogin(pending.login, account, account.name);
  }

  private completeLogin(login: Login7, account: Login, userName: string): void {
    const scenario = this.sim.engine.scenario;
    const f = this.fault;
    if (account.disabled) {
      return this.loginError(login, [{ number: 18470, severity: 14, message: `Login failed for user '${userName}'. Reason: The account is disabled.` }]);
    }
    const wanted = login.database || 'master';
    const collation = scenarioCollation(scenario.server.collation ?? DEFAULT_COLLATION, 'server.collation');
    const row = scenario.databases.find((d) => typeof d.name === 'string' && sameName(d.name, wanted, collation));
    const online = row ? (row.state_desc ?? 'ONLINE') === 'ONLINE' : SYSTEM_DATABASES.some((name) => sameName(name, wanted, collation));
    if (!online) {
      return this.loginError(login, [
        { number: 4060, severity: 11, message: `Cannot open database "${wanted}" requested by the login. The login failed.` },
        { number: 18456, severity: 14, message: loginFailed(userName) },
      ]);
    }
    const database = row ? String(row.name) : wanted.toLowerCase();

    const requested = login.packetSize;
    this.negotiatedPacketSize = requested === 0 ? DEFAULT_PACKET_SIZE : Math.min(Math.max(requested, MIN_PACKET_SIZE), MAX_PACKET_SIZE);
    const server = this.serverName();
    const info = (number: number, state: number, message: string) => T.message({ number, state, severity: 0, message, serverName: server });
    const tokens: Buffer[] = [
      T.envChangeText(T.EnvChange.DATABASE, database, 'master'),
      info(5701, 2, `Changed database context to '${database}'.`),
    ];
    const partner = this.mirroringPartner(row);
    if (partner) tokens.push(T.envChangeText(T.EnvChange.DATABASE_MIRRORING_PARTNER, partner, ''));
    tokens.push(
      T.collationChange(),
      T.envChangeText(T.EnvChange.LANGUAGE, 'us_english', ''),
      info(5703, 1, 'Changed language setting to us_english.'),
    );
    const [major, minor, build] = this.version();
    const tdsVersion = f?.name === 'wrong-tds-version' ? (f.version ?? 0x07000000) : answeredTdsVersion(this.productVersion(), login.tdsVersion);
    tokens.push(T.loginAck(tdsVersion, 'Microsoft SQL Server', [major, minor, build]));
    // FEATUREEXTACK came with TDS 7.4 (MS-TDS 2.2.7.11); a 7.2/7.3 server ignores the client's
    // FeatureExt and sends none (a 7.3 client would read 0xAE as another token). UTF-8 support is
    // acknowledged from SQL Server 2019 (15.x) on (MS-TDS 2.2.7.11, UTF8_SUPPORT).
    if (login.features.size > 0 && tdsVersion >= T.TDS_7_4) {
      const acks: [number, Buffer][] = [];
      if (login.features.has(Feature.UTF8_SUPPORT) && major >= 15) acks.push([Feature.UTF8_SUPPORT, Buffer.from([1])]);
      tokens.push(T.featureExtAck(acks));
    }
    const packetSize = f?.name === 'packet-size' ? (f.text ?? '4') : String(this.negotiatedPacketSize);
    // a size the client may take is also the one sqlsim then writes with
    if (/^\d+$/.test(packetSize) && Number(packetSize) >= MIN_PACKET_SIZE && Number(packetSize) <= MAX_PACKET_SIZE) this.negotiatedPacketSize = Number(packetSize);
    tokens.push(T.envChangeText(T.EnvChange.PACKET_SIZE, packetSize, String(DEFAULT_PACKET_SIZE)));
    const routing = scenario.server.routing;
    if (routing) tokens.push(T.routingChange(routing.server, routing.port));
    tokens.push(T.done(T.Token.DONE, T.DoneStatus.FINAL, 0, 0));
    this.send(PacketType.TABULAR_RESULT, Buffer.concat(tokens), 'login');
    this.writer.packetSize = this.negotiatedPacketSize;

    this.sim.stats.logins++;
    this.loginDatabase = database;
    this.session = { login: account, database, appName: login.appName || undefined };
    // stall-after-login aimed at a kind of request stalls when one arrives, not here
    this.state = f?.name === 'stall-after-login' && f.on === undefined ? 'stalled' : 'ready';
    this.routed = routing !== undefined;
    this.sim.log(`${this.name}: '${userName}' logged in to ${database} (packet size ${packetSize}, TDS 0x${tdsVersion.toString(16).padStart(8, '0')})${routing ? `, routed to ${routing.server},${routing.port}` : ''}`);
  }

  /** SQL Server names the failover partner at login when the database is a mirroring principal. */
  private mirroringPartner(database: Record<string, Value> | undefined): string | undefined {
    if (!database) return undefined;
    const rows = this.sim.engine.scenario.database_mirroring ?? [];
    const m = rows.find((r) => r.database_id === database.database_id);
    const principal = m && (m.mirroring_role_desc === 'PRINCIPAL' || (m.mirroring_role_desc === undefined && m.mirroring_role === 1));
    if (principal && typeof m.mirroring_partner_instance === 'string') return m.mirroring_partner_instance;
    return undefined;
  }

  // ------------------------------------------------------------------------------- requests

  private attention(): void {
    this.sim.stats.attentions++;
    this.sim.log(`${this.name}: ATTENTION (${this.pendingReply ? 'cancels the pending reply' : 'nothing pending'})`);
    if (this.state === 'stalled' || this.state === 'closed') return;
    if (this.pendingReply) {
      this.pendingReply.cancel(); // the request's handler sends the acknowledgement
      return;
    }
    this.chain = this.chain.then(() => this.sendAttentionAck());
  }

  private sendAttentionAck(): void {
    this.send(PacketType.TABULAR_RESULT, T.done(T.Token.DONE, T.DoneStatus.ATTN, 0, 0), 'query');
  }

  private async onRequest(message: Message): Promise<void> {
    // A routed session serves no request (see Scenario.server.routing).
    if (this.routed) return this.endGracefully();
    const f = this.faultFor(message);
    if (message.type === PacketType.SQL_BATCH) this.sim.stats.batches++;
    if (message.type === PacketType.RPC) this.sim.stats.rpcs++;
    if (f?.name === 'stall-after-login') {
      this.state = 'stalled';
      return;
    }
    if (f?.name === 'server-close') return this.endGracefully();

    const prefix: Buffer[] = [];
    if (message.status & (Status.RESET_CONNECTION | Status.RESET_CONNECTION_SKIP_TRAN)) {
      // sp_reset_connection: back to the login's database, acknowledged with ENVCHANGE 18.
      if (this.session) this.session.database = this.loginDatabase;
      prefix.push(T.envChangeBytes(T.EnvChange.RESET_CONNECTION, Buffer.alloc(0), Buffer.alloc(0)));
    }
    let body: Buffer;
    try {
      body = this.answer(message, f);
    } catch (err) {
      if (err instanceof ProtocolError) return this.protocolError(err.message);
      throw err;
    }
    const payload = Buffer.concat([...prefix, body]);
    if (await this.delayReply(f)) {
      // Cancelled before any reply: the request's (cut short) response, then the acknowledgement in
      // a message of its own — two messages, as SQL Server sends them and tedious expects.
      const end = message.type === PacketType.RPC ? T.Token.DONEPROC : T.Token.DONE;
      this.send(PacketType.TABULAR_RESULT, T.done(end, T.DoneStatus.FINAL, T.CurCmd.NONE, 0), 'query');
      return this.sendAttentionAck();
    }
    if (this.state !== 'ready') return;

    if (f?.name === 'garbage' && (f.phase ?? 'query') === 'query') return this.sendGarbage();
    if (f?.name === 'truncated-packet' && (f.phase ?? 'query') === 'query') return this.sendTruncated();
    if (f?.name === 'reset-mid-result') return this.resetMidResult(payload);
    this.send(PacketType.TABULAR_RESULT, payload, 'query');
  }

  private resetMidResult(payload: Buffer): void {
    const bytes = this.writer.encode(PacketType.TABULAR_RESULT, payload);
    this.out(bytes.subarray(0, Math.max(9, Math.floor(bytes.length / 2))));
    this.state = 'stalled';
    setTimeout(() => {
      this.state = 'closed';
      if (!this.socket.destroyed) this.socket.resetAndDestroy();
    }, 50);
  }

  /** The token stream answering one SQL_BATCH or RPC message. */
  private answer(message: Message, f: Fault | undefined): Buffer {
    if (f?.name === 'query-error') {
      const token = message.type === PacketType.RPC ? T.Token.DONEPROC : T.Token.DONE;
      return this.errorTokens(new SqlError(f.number ?? 50000, f.message ?? 'Simulated query failure.', f.severity ?? 16), token);
    }
    if (message.type === PacketType.SQL_BATCH) {
      const { text } = parseSqlBatch(message.payload);
      this.sim.log(`${this.name}: batch ${JSON.stringify(text.slice(0, 200))}`);
      return this.withDatabaseChange(() => this.run(() => this.sim.engine.execute(text, {}, this.session!), f, T.Token.DONE));
    }
    if (message.type === PacketType.RPC) {
      let calls: RpcCall[];
      try {
        calls = parseRpc(message.payload).calls;
      } catch (err) {
        if (err instanceof UnsupportedType) return this.errorTokens(new SqlError(8016, `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. ${err.message}.`), T.Token.DONEPROC);
        throw err;
      }
      return this.withDatabaseChange(() => Buffer.concat(calls.map((call, i) => this.rpcCall(call, f, i < calls.length - 1))));
    }
    // TRANSACTION_MANAGER: transactions are outside what a catalog check needs.
    return this.errorTokens(new SqlError(50000, 'sqlsim: transaction manager requests are not supported.'), T.Token.DONE);
  }

  /** A USE in the request changed the session's database: SQL Server says so with ENVCHANGE and INFO 5701. */
  private withDatabaseChange(answer: () => Buffer): Buffer {
    const before = this.session!.database;
    const body = answer();
    const after = this.session!.database;
    if (after === before) return body;
    const info = T.message({ number: 5701, state: 1, severity: 0, message: `Changed database context to '${after}'.`, serverName: this.serverName() });
    return Buffer.concat([T.envChangeText(T.EnvChange.DATABASE, after, before), info, body]);
  }

  private rpcCall(call: RpcCall, f: Fault | undefined, more: boolean): Buffer {
    const name = procName(call);
    const bare = name.toLowerCase().replace(/^(\[?sys\]?\.|master\.\.|master\.sys\.)/, '');
    if (call.procId !== ProcId.Sp_ExecuteSql && bare !== 'sp_executesql') {
      return this.errorTokens(new SqlError(2812, `Could not find stored procedure '${name}'.`, 16, 62), T.Token.DONEPROC, more);
    }
    const [statement, , ...values] = call.params;
    if (typeof statement?.value !== 'string') {
      return this.errorTokens(new SqlError(214, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.", 16, 2), T.Token.DONEPROC, more);
    }
    const params: Record<string, Value> = {};
    for (const p of values) params[p.name.replace(/^@/, '')] = p.value;
    this.sim.log(`${this.name}: sp_executesql ${JSON.stringify(statement.value.slice(0, 200))} ${JSON.stringify(Object.keys(params))}`);
    return this.run(() => this.sim.engine.execute(statement.value as string, params, this.session!), f, T.Token.DONEPROC, more);
  }

  /** Runs the engine and encodes its results; errors become ERROR tokens as SQL Server sends them. */
  private run(execute: () => StatementResult[], f: Fault | undefined, endToken: number, more = false): Buffer {
    let results: StatementResult[];
    try {
      results = execute();
      if (f?.name === 'oversized-result') results = oversize(results, f.rows ?? 50_000);
      return this.resultTokens(results, endToken, more);
    } catch (err) {
      const sqlError = err instanceof SqlError ? err : new SqlError(50000, `sqlsim internal error: ${(err as Error).message}`, 16);
      if (!(err instanceof SqlError)) this.sim.log(`${this.name}: ${(err as Error).stack}`);
      return this.errorTokens(sqlError, endToken, more);
    }
  }

  private resultTokens(results: StatementResult[], endToken: number, more: boolean): Buffer {
    const inProc = endToken === T.Token.DONEPROC;
    const statementDone = inProc ? T.Token.DONEINPROC : T.Token.DONE;
    const parts: Buffer[] = [];
    for (const result of results) {
      if ('columns' in result) {
        const columns = result.columns
          .map((c, i) => (c.nullable || !result.rows.some((r) => r[i] === null || r[i] === undefined) ? c : { ...c, nullable: true }))
          .map((c) => (c.type === 'nvarchar' && this.sim.varcharColumns.has(c.name) ? { ...c, type: 'varchar' as const } : c));
        parts.push(T.colMetadata(columns));
        for (const values of result.rows) parts.push(T.row(columns, values));
        parts.push(T.done(statementDone, T.DoneStatus.MORE | T.DoneStatus.COUNT, T.CurCmd.SELECT, result.rows.length));
      } else {
        parts.push(T.done(statementDone, T.DoneStatus.MORE | T.DoneStatus.COUNT, T.CurCmd.NONE, Math.max(0, result.rowCount)));
      }
    }
    if (inProc) {
      parts.push(T.returnStatus(0), T.done(T.Token.DONEPROC, more ? T.DoneStatus.MORE : T.DoneStatus.FINAL, T.CurCmd.EXECUTE, 0));
    } else if (parts.length === 0) {
      parts.push(T.done(T.Token.DONE, T.DoneStatus.FINAL, T.CurCmd.NONE, 0));
    } else {
      // The batch's last DONE is final: clear its MORE bit.
      const last = parts[parts.length - 1];
      last.writeUInt16LE(last.readUInt16LE(1) & ~T.DoneStatus.MORE, 1);
    }
    return Buffer.concat(parts);
  }

  private errorTokens(error: SqlError, endToken: number, more = false): Buffer {
    const tokens = (error instanceof SqlErrors ? error.all : [error]).map((e) =>
      T.message({ number: e.number, state: e.state, severity: e.severity, message: e.message, serverName: this.serverName() }));
    if (endToken === T.Token.DONEPROC) tokens.push(T.returnStatus(error.number === 2812 ? -6 : 1));
    tokens.push(T.done(endToken, T.DoneStatus.ERROR | (more ? T.DoneStatus.MORE : 0), endToken === T.Token.DONEPROC ? T.CurCmd.EXECUTE : T.CurCmd.NONE, 0));
    // Severity 20 and above ends the connection on a real server.
    if (error.severity >= 20) setTimeout(() => this.endGracefully(), 20);
    return Buffer.concat(tokens);
  }
}

/**
 * The TDS version of LOGINACK: the server's own, or the client's when that is lower (MS-TDS 2.2.7.14).
 * A TDS 8.0 client (0x08000000 in LOGIN7, below 7.x numerically) logs in to a 2022+ server as 7.4.
 */
function answeredTdsVersion(productVersion: string, asked: number): number {
  const own = tdsVersionOf(productVersion);
  return asked < 0x70000000 ? own : Math.min(own, asked);
}

export interface MirroredPair {
  /** the two servers, in the order their scenarios were given */
  readonly servers: [SqlSim, SqlSim];
  /** the server whose scenario was given as principal, until failover() swaps the roles */
  readonly principal: SqlSim;
  readonly mirror: SqlSim;
  /** Fails the pair over (the catalog's failover: every mirrored database swaps roles on both servers). */
  failover(): void;
  close(): Promise<void>;
}

/** Two servers of a database mirroring pair, started with the same options but their own scenario. */
export async function startMirroredPair(options: Omit<SqlSimOptions, 'scenario' | 'engine' | 'port'> & { principal: Scenario; mirror: Scenario; ports?: [number, number] }): Promise<MirroredPair> {
  const { principal, mirror, ports, ...common } = options;
  const a = await startSqlSim({ ...common, scenario: principal, port: ports?.[0] ?? 0 });
  let b: SqlSim;
  try {
    b = await startSqlSim({ ...common, scenario: mirror, port: ports?.[1] ?? 0 });
  } catch (err) {
    await a.close();
    throw err;
  }
  let swapped = false;
  return {
    servers: [a, b],
    get principal() {
      return swapped ? b : a;
    },
    get mirror() {
      return swapped ? a : b;
    },
    failover() {
      const [sa, sb] = failover(a.engine.scenario, b.engine.scenario);
      a.setScenario(sa);
      b.setScenario(sb);
      swapped = !swapped;
    },
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** oversized-result: every result set repeats its first row; with no rows at all, a wide filler set. */
function oversize(results: StatementResult[], rows: number): StatementResult[] {
  const sets = results.filter((r): r is ResultSet => 'columns' in r);
  if (!sets.some((s) => s.rows.length > 0)) {
    return [...results, { columns: [{ name: 'filler', type: 'nvarchar', length: 100, nullable: false }], rows: Array.from({ length: rows }, () => ['x'.repeat(100)]) }];
  }
  return results.map((r) => ('columns' in r && r.rows.length > 0 ? { columns: r.columns, rows: Array.from({ length: rows }, () => r.rows[0]) } : r));
}
