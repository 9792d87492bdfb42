// TLS for TDS. In TDS 7.x the handshake records travel inside PRELOGIN packets: the client sends
// one PRELOGIN message per flight and expects exactly one message back, so the server must know
// when its own flight is complete. TDS 8.0 ("strict") runs TLS on the raw socket instead.

import { duplexPair, type Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { constants } from 'node:crypto';

export const RecordType = { CHANGE_CIPHER_SPEC: 20, ALERT: 21, HANDSHAKE: 22, APPLICATION_DATA: 23 } as const;
const SERVER_HELLO_DONE = 14;

/** A fatal handshake_failure alert, as a server that cannot agree on anything sends it. */
export const HANDSHAKE_FAILURE_ALERT = Buffer.from([RecordType.ALERT, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

/**
 * Splits the server's TLS output into flights: a flight ends with ServerHelloDone, with the
 * record after ChangeCipherSpec (the encrypted Finished), or with an alert. That is the shape of
 * TLS 1.0, 1.1 and 1.2 handshakes alike, which is all SQL Server speaks inside PRELOGIN packets.
 */
export class FlightCollector {
  private partial: Buffer = Buffer.alloc(0);
  private flight: Buffer[] = [];
  private handshakeBytes: Buffer = Buffer.alloc(0);
  private afterCcs = false;
  /** true once the server's Finished has been collected */
  finished = false;

  /** Returns the flights completed by this chunk of TLS output. */
  push(chunk: Buffer): Buffer[] {
    this.partial = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    const flights: Buffer[] = [];
    while (this.partial.length >= 5) {
      const length = this.partial.readUInt16BE(3);
      if (this.partial.length < 5 + length) break;
      const record = this.partial.subarray(0, 5 + length);
      this.partial = this.partial.subarray(5 + length);
      this.flight.push(record);
      if (this.endsFlight(record)) {
        flights.push(Buffer.concat(this.flight));
        this.flight = [];
      }
    }
    return flights;
  }

  private endsFlight(record: Buffer): boolean {
    const type = record[0];
    if (type === RecordType.ALERT) return true;
    if (type === RecordType.CHANGE_CIPHER_SPEC) {
      this.afterCcs = true;
      return false;
    }
    if (type !== RecordType.HANDSHAKE) return false;
    if (this.afterCcs) {
      this.finished = true;
      return true;
    }
    // Walk the plaintext handshake messages (they may span records) looking for ServerHelloDone.
    this.handshakeBytes = Buffer.concat([this.handshakeBytes, record.subarray(5)]);
    let done = false;
    while (this.handshakeBytes.length >= 4) {
      const length = this.handshakeBytes.readUIntBE(1, 3);
      if (this.handshakeBytes.length < 4 + length) break;
      if (this.handshakeBytes[0] === SERVER_HELLO_DONE) done = true;
      this.handshakeBytes = this.handshakeBytes.subarray(4 + length);
    }
    return done;
  }

  /** Whatever has been collected but not yet sent (used by a fallback timer). */
  drain(): Buffer | null {
    if (this.flight.length === 0 && this.partial.length === 0) return null;
    const out = Buffer.concat([...this.flight, this.partial]);
    this.flight = [];
    this.partial = Buffer.alloc(0);
    return out;
  }
}

export interface ServerTls {
  /** the plaintext side: read requests from it, write replies to it */
  app: tls.TLSSocket;
  /** the ciphertext side: write what the client sent, read what must go to the client */
  wire: Duplex;
}

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * The TLS versions a server speaks, oldest and newest; default TLS 1.2 to 1.3 (1.2 inside
 * PRELOGIN packets), as SQL Server 2016 and later.
 *
 * - SQL Server speaks TLS 1.3 only with TDS 8.0 (Microsoft Learn, "TLS 1.3 support": "SQL Server
 *   2022 supports TLS 1.3 when TDS 8.0 is used"; 2019 and earlier never): inside PRELOGIN packets
 *   the newest is TLS 1.2, whatever `max` says.
 * - SQL Server 2008 to 2014 speak TLS 1.2 only from the builds that KB3135244 ("TLS 1.2 support
 *   for Microsoft SQL Server", table "How to know whether you need this update") lists, e.g.
 *   2014 RTM CU12 12.0.2564.0, 2014 SP1 CU5 12.0.4439.1; older builds speak TLS 1.0 (and 1.1
 *   where Windows enables it): `{ min: 'TLSv1', max: 'TLSv1' }` or `{ min: 'TLSv1.1', max: 'TLSv1.1' }`.
 *   Such a server answers a client that offers TLS 1.2 with its own older version in the
 *   ServerHello (RFC 5246 appendix E.1), and the client decides.
 * OpenSSL 3 speaks TLS below 1.2 only at security level 0, so the simulator lowers its own to 0
 * for such a server (a real one has no such level; this only lets Node play it).
 */
export interface TlsVersions {
  min: TlsVersion;
  max: TlsVersion;
}

/** The versions actually in force for a handshake: inside PRELOGIN packets, TLS 1.2 at most. */
export function effectiveVersions(versions: TlsVersions | undefined, strict: boolean): TlsVersions {
  const min = versions?.min ?? 'TLSv1.2';
  const ceiling: TlsVersion = strict ? 'TLSv1.3' : 'TLSv1.2';
  const wanted = versions?.max ?? ceiling;
  const max = ORDER.indexOf(wanted) > ORDER.indexOf(ceiling) ? ceiling : wanted;
  if (ORDER.indexOf(min) > ORDER.indexOf(max)) throw new Error(`TLS versions ${min}..${max}: none left${strict ? '' : ' inside PRELOGIN (TLS 1.2 at most)'}`);
  return { min, max };
}

/**
 * A server-side TLS engine detached from any socket, so the caller decides how ciphertext is
 * carried (inside PRELOGIN packets, or raw).
 */
export function createServerTls(options: { cert: string | Buffer; key: string | Buffer; strict: boolean; versions?: TlsVersions }): ServerTls {
  const [appEnd, wire] = duplexPair();
  const { min, max } = effectiveVersions(options.versions, options.strict);
  const app = new tls.TLSSocket(appEnd, {
    isServer: true,
    secureContext: tls.createSecureContext({
      cert: options.cert,
      key: options.key,
      minVersion: min,
      maxVersion: max,
      ...(min === 'TLSv1' || min === 'TLSv1.1' ? { ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0` } : {}),
      // No session tickets: they would add a record after the client's Finished.
      secureOptions: constants.SSL_OP_NO_TICKET,
    }),
    ALPNProtocols: options.strict ? ['tds/8.0'] : undefined,
    requestCert: false,
  });
  return { app, wire };
}
