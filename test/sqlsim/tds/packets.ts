// TDS packet framing (MS-TDS 2.2.3): an 8-byte header, then data. A message is one or more
// packets of the same type; the last one carries the EOM status bit.

export const PacketType = {
  SQL_BATCH: 0x01,
  RPC: 0x03,
  TABULAR_RESULT: 0x04,
  ATTENTION: 0x06,
  BULK_LOAD: 0x07,
  TRANSACTION_MANAGER: 0x0e,
  LOGIN7: 0x10,
  SSPI: 0x11,
  PRELOGIN: 0x12,
} as const;

export const Status = {
  EOM: 0x01,
  IGNORE: 0x02,
  RESET_CONNECTION: 0x08,
  RESET_CONNECTION_SKIP_TRAN: 0x10,
} as const;

export const HEADER_LENGTH = 8;
export const DEFAULT_PACKET_SIZE = 4096;
export const MIN_PACKET_SIZE = 512;
export const MAX_PACKET_SIZE = 32767;

export interface Message {
  type: number;
  /** status bits of the first packet (RESETCONNECTION lives there) */
  status: number;
  payload: Buffer;
  packets: number;
}

export class ProtocolError extends Error {}

/** Reassembles messages from a byte stream that may split or join packets anywhere. */
export class PacketReader {
  private buffered: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private first: { type: number; status: number } | null = null;
  packetsRead = 0;

  /** Feed bytes; returns the messages completed by them. Throws ProtocolError on a bad header. */
  push(chunk: Buffer): Message[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const done: Message[] = [];
    while (this.buffered.length >= HEADER_LENGTH) {
      const type = this.buffered[0];
      const status = this.buffered[1];
      const length = this.buffered.readUInt16BE(2);
      if (length < HEADER_LENGTH) throw new ProtocolError(`packet length ${length} is shorter than its header`);
      if (this.buffered.length < length) break;
      const data = this.buffered.subarray(HEADER_LENGTH, length);
      this.buffered = this.buffered.subarray(length);
      this.packetsRead++;
      if (this.first && this.first.type !== type) {
        throw new ProtocolError(`packet of type 0x${hex(type)} inside a message of type 0x${hex(this.first.type)}`);
      }
      this.first ??= { type, status };
      this.parts.push(data);
      if (status & Status.EOM) {
        const message = { ...this.first, payload: Buffer.concat(this.parts), packets: this.parts.length };
        this.first = null;
        this.parts = [];
        // IGNORE: the client abandoned a partly sent message; drop it.
        if (!(status & Status.IGNORE)) done.push(message);
      }
    }
    return done;
  }

  /** Bytes received but not yet part of a whole packet (used to hand over to TLS). */
  takeRemainder(): Buffer {
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }

  get midMessage(): boolean {
    return this.first !== null || this.buffered.length > 0;
  }
}

/** Splits one message into packets of at most packetSize bytes. */
export class PacketWriter {
  private packetId = 1;
  packetsWritten = 0;
  packetSize: number;
  spid: number;

  constructor(spid: number, packetSize = DEFAULT_PACKET_SIZE) {
    this.spid = spid;
    this.packetSize = packetSize;
  }

  encode(type: number, payload: Buffer, status = 0): Buffer {
    const room = this.packetSize - HEADER_LENGTH;
    const count = Math.max(1, Math.ceil(payload.length / room));
    const out = Buffer.alloc(payload.length + count * HEADER_LENGTH);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const data = payload.subarray(i * room, (i + 1) * room);
      const last = i === count - 1;
      out[at] = type;
      out[at + 1] = status | (last ? Status.EOM : 0);
      out.writeUInt16BE(data.length + HEADER_LENGTH, at + 2);
      out.writeUInt16BE(this.spid, at + 4);
      out[at + 6] = this.packetId;
      out[at + 7] = 0;
      data.copy(out, at + HEADER_LENGTH);
      at += data.length + HEADER_LENGTH;
      this.packetId = (this.packetId + 1) % 256;
    }
    this.packetsWritten += count;
    return out;
  }
}

export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
