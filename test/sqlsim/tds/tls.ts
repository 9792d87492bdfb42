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
 * record after ChangeCipherSpec (the encrypted Finished), or with an alert (TLS 1.2 only, which
 * is all SQL Server speaks inside PRELOGIN packets).
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

/**
 * A server-side TLS engine detached from any socket, so the caller decides how ciphertext is
 * carried (inside PRELOGIN packets, or raw).
 */
export function createServerTls(options: { cert: string | Buffer; key: string | Buffer; strict: boolean }): ServerTls {
  const [appEnd, wire] = duplexPair();
  const app = new tls.TLSSocket(appEnd, {
    isServer: true,
    secureContext: tls.createSecureContext({
      cert: options.cert,
      key: options.key,
      // SQL Server speaks TLS 1.3 only with TDS 8.0; inside PRELOGIN packets it is TLS 1.2 at most.
      maxVersion: options.strict ? 'TLSv1.3' : 'TLSv1.2',
      minVersion: 'TLSv1.2',
      // No session tickets: they would add a record after the client's Finished.
      secureOptions: constants.SSL_OP_NO_TICKET,
    }),
    ALPNProtocols: options.strict ? ['tds/8.0'] : undefined,
    requestCert: false,
  });
  return { app, wire };
}
