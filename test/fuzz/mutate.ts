// Seeded, structure-aware mutations of a TDS reply as it goes on the wire: the packets are split
// apart, the token stream inside is walked to find token types and length fields, and one
// mutation is applied to a header, a token type, a length, the data, or the packet framing.
// The same seed always gives the same mutation for the same reply.

export type Rng = () => number;

/** mulberry32: small, fast, and the same on every platform. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

// ---------------------------------------------------------------------------------------------
// Packets

export interface Packet {
  type: number;
  status: number;
  spid: number;
  id: number;
  window: number;
  data: Buffer;
}

/** Split wire bytes into packets; whatever does not form a whole packet is returned as `rest`. */
export function splitPackets(wire: Buffer): { packets: Packet[]; rest: Buffer } {
  const packets: Packet[] = [];
  let off = 0;
  while (wire.length - off >= 8) {
    const len = wire.readUInt16BE(off + 2);
    if (len < 8 || off + len > wire.length) break;
    packets.push({ type: wire[off], status: wire[off + 1], spid: wire.readUInt16BE(off + 4), id: wire[off + 6], window: wire[off + 7],
      data: wire.subarray(off + 8, off + len) });
    off += len;
  }
  return { packets, rest: wire.subarray(off) };
}

export function framePackets(packets: Packet[]): Buffer {
  return Buffer.concat(packets.map((p) => {
    const h = Buffer.alloc(8);
    h[0] = p.type;
    h[1] = p.status;
    h.writeUInt16BE(Math.min(8 + p.data.length, 0xffff), 2);
    h.writeUInt16BE(p.spid, 4);
    h[6] = p.id;
    h[7] = p.window;
    return Buffer.concat([h, p.data]);
  }));
}

// ---------------------------------------------------------------------------------------------
// Token stream walk (MS-TDS 2.2.7): find token-type bytes and length fields to aim mutations at.

export interface Field {
  offset: number;
  size: 1 | 2 | 4 | 8;
  what: 'token' | 'length' | 'count' | 'value';
}

const FIXED_SIZE: Record<number, number> = { 0x30: 1, 0x32: 1, 0x34: 2, 0x38: 4, 0x3a: 4, 0x3b: 4, 0x3c: 8, 0x3d: 8, 0x3e: 8, 0x7a: 4, 0x7f: 8 };
const BYTELEN = new Set([0x24, 0x26, 0x68, 0x6d, 0x6e, 0x6f, 0x37, 0x3f, 0x6a, 0x6c, 0x28, 0x29, 0x2a, 0x2b]);
const USHORTLEN = new Set([0xa5, 0xa7, 0xad, 0xaf, 0xe7, 0xef]);
const WITH_COLLATION = new Set([0xa7, 0xaf, 0xe7, 0xef]);

export const TOKEN_TYPES = [0x79, 0x81, 0xa4, 0xa5, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xd1, 0xd2, 0xe3, 0xe4, 0xed, 0xfd, 0xfe, 0xff] as const;

interface ColType { type: number; len: 'fixed' | 'byte' | 'ushort' | 'plp' | 'long'; size: number }

/**
 * Walk a tabular-result payload, recording every field whose meaning is known. Stops quietly at
 * anything it does not understand (the fields found so far are still useful). A PRELOGIN reply
 * (an option table, not tokens) is recognised by its first byte and walked as such.
 */
export function walkTokens(p: Buffer): Field[] {
  const fields: Field[] = [];
  if (p.length > 0 && p[0] === 0x00) return walkPrelogin(p);
  let cols: ColType[] = [];
  let o = 0;
  try {
    while (o < p.length) {
      const t = p[o];
      fields.push({ offset: o, size: 1, what: 'token' });
      o += 1;
      if (t === 0xfd || t === 0xfe || t === 0xff) {
        fields.push({ offset: o, size: 2, what: 'value' }, { offset: o + 4, size: 8, what: 'count' });
        o += 12;
      } else if (t === 0x79) {
        fields.push({ offset: o, size: 4, what: 'value' });
        o += 4;
      } else if ([0xad, 0xe3, 0xab, 0xaa, 0xa9, 0xa5, 0xa4, 0xed].includes(t)) {
        fields.push({ offset: o, size: 2, what: 'length' });
        const len = p.readUInt16LE(o);
        fieldsInside(t, p, o + 2, len, fields);
        o += 2 + len;
      } else if (t === 0xae) {
        while (p[o] !== 0xff) {
          fields.push({ offset: o + 1, size: 4, what: 'length' });
          o += 5 + p.readUInt32LE(o + 1);
        }
        o += 1;
      } else if (t === 0x81) {
        fields.push({ offset: o, size: 2, what: 'count' });
        const n = p.readUInt16LE(o);
        o += 2;
        cols = [];
        if (n === 0xffff) continue;
        for (let i = 0; i < n; i++) {
          o += 6; // UserType, Flags
          const type = p[o];
          o += 1;
          let c: ColType;
          if (type in FIXED_SIZE) c = { type, len: 'fixed', size: FIXED_SIZE[type] };
          else if (BYTELEN.has(type)) {
            fields.push({ offset: o, size: 1, what: 'length' });
            c = { type, len: 'byte', size: p[o] };
            o += 1;
            if (type === 0x37 || type === 0x3f || type === 0x6a || type === 0x6c) o += 2; // precision, scale
          } else if (USHORTLEN.has(type)) {
            fields.push({ offset: o, size: 2, what: 'length' });
            const max = p.readUInt16LE(o);
            c = { type, len: max === 0xffff ? 'plp' : 'ushort', size: max };
            o += 2;
            if (WITH_COLLATION.has(type)) o += 5;
          } else if (type === 0x62) {
            fields.push({ offset: o, size: 4, what: 'length' });
            c = { type, len: 'long', size: p.readUInt32LE(o) };
            o += 4;
          } else return fields;
          fields.push({ offset: o, size: 1, what: 'length' }); // column name length
          o += 1 + p[o] * 2;
          cols.push(c);
        }
      } else if (t === 0xd1 || t === 0xd2) {
        let nulls: Buffer | null = null;
        if (t === 0xd2) {
          const nb = Math.ceil(cols.length / 8);
          fields.push({ offset: o, size: 1, what: 'value' });
          nulls = p.subarray(o, o + nb);
          o += nb;
        }
        for (let i = 0; i < cols.length; i++) {
          if (nulls && (nulls[i >> 3] >> (i & 7)) & 1) continue;
          const c = cols[i];
          if (c.len === 'fixed') {
            fields.push({ offset: o, size: c.size as 1 | 2 | 4 | 8, what: 'value' });
            o += c.size;
          } else if (c.len === 'byte') {
            fields.push({ offset: o, size: 1, what: 'length' });
            const n = p[o];
            if (n === 1 || n === 2 || n === 4 || n === 8) fields.push({ offset: o + 1, size: n, what: 'value' });
            o += 1 + n;
          } else if (c.len === 'ushort') {
            fields.push({ offset: o, size: 2, what: 'length' });
            const n = p.readUInt16LE(o);
            o += 2 + (n === 0xffff ? 0 : n);
          } else if (c.len === 'long') {
            fields.push({ offset: o, size: 4, what: 'length' });
            o += 4 + p.readUInt32LE(o);
          } else {
            fields.push({ offset: o, size: 8, what: 'length' });
            const total = p.readBigUInt64LE(o);
            o += 8;
            if (total === 0xffffffffffffffffn) continue;
            for (;;) {
              fields.push({ offset: o, size: 4, what: 'length' });
              const chunk = p.readUInt32LE(o);
              o += 4 + chunk;
              if (chunk === 0) break;
            }
          }
        }
      } else {
        return fields;
      }
    }
  } catch {
    // ran off the end of the buffer: keep what was found
  }
  return fields.filter((f) => f.offset + f.size <= p.length);
}

function fieldsInside(t: number, p: Buffer, start: number, len: number, out: Field[]): void {
  if (t === 0xaa || t === 0xab) {
    out.push({ offset: start, size: 4, what: 'value' }); // error number
    out.push({ offset: start + 6, size: 2, what: 'length' }); // message length (chars)
  } else if (t === 0xe3) {
    out.push({ offset: start, size: 1, what: 'value' }); // envchange type
    out.push({ offset: start + 1, size: 1, what: 'length' });
  } else if (t === 0xad) {
    out.push({ offset: start + 1, size: 4, what: 'value' }); // TDS version
    out.push({ offset: start + 5, size: 1, what: 'length' }); // program name length
  }
  void len;
}

function walkPrelogin(p: Buffer): Field[] {
  const fields: Field[] = [];
  let o = 0;
  while (o + 5 <= p.length && p[o] !== 0xff) {
    fields.push({ offset: o, size: 1, what: 'token' }, { offset: o + 1, size: 2, what: 'length' }, { offset: o + 3, size: 2, what: 'length' });
    if (p[o] === 0x01) fields.push({ offset: p.readUInt16BE(o + 1), size: 1, what: 'value' }); // ENCRYPTION
    o += 5;
  }
  return fields.filter((f) => f.offset + f.size <= p.length);
}

// ---------------------------------------------------------------------------------------------
// Mutations

export const MUTATIONS = [
  'bit-flip', 'truncate', 'packet-length', 'packet-type', 'packet-status', 'reframe',
  'token-type', 'length-field', 'huge-length', 'value-field', 'insert-bytes', 'delete-bytes', 'duplicate-range',
] as const;
export type MutationKind = (typeof MUTATIONS)[number];

export interface Mutated {
  bytes: Buffer;
  kind: MutationKind;
  detail: string;
}

const EXTREMES: Record<1 | 2 | 4 | 8, bigint[]> = {
  1: [0n, 1n, 0x7fn, 0x80n, 0xfen, 0xffn],
  2: [0n, 1n, 0x7fffn, 0x8000n, 0xfffen, 0xffffn],
  4: [0n, 1n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn],
  8: [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn],
};

function writeField(b: Buffer, f: Field, v: bigint): void {
  if (f.size === 1) b[f.offset] = Number(v & 0xffn);
  else if (f.size === 2) b.writeUInt16LE(Number(v & 0xffffn), f.offset);
  else if (f.size === 4) b.writeUInt32LE(Number(v & 0xffffffffn), f.offset);
  else b.writeBigUInt64LE(v & 0xffffffffffffffffn, f.offset);
}

function readField(b: Buffer, f: Field): bigint {
  if (f.size === 1) return BigInt(b[f.offset]);
  if (f.size === 2) return BigInt(b.readUInt16LE(f.offset));
  if (f.size === 4) return BigInt(b.readUInt32LE(f.offset));
  return b.readBigUInt64LE(f.offset);
}

/** Re-pack `payload` into packets shaped like `like` (same header fields), or of the given sizes. */
function repack(like: Packet[], payload: Buffer, sizes?: number[]): Packet[] {
  const first = like[0];
  const chunks: Buffer[] = [];
  if (sizes) {
    let o = 0;
    for (const s of sizes) { chunks.push(payload.subarray(o, o + s)); o += s; }
    if (o < payload.length) chunks.push(payload.subarray(o));
  } else {
    let o = 0;
    like.forEach((p, i) => {
      const end = i === like.length - 1 ? payload.length : Math.min(payload.length, o + p.data.length);
      chunks.push(payload.subarray(o, end));
      o = end;
    });
  }
  return chunks.map((data, i) => ({
    type: first.type, spid: first.spid, window: 0, id: (first.id + i) & 0xff, data,
    status: i === chunks.length - 1 ? (first.status | 0x01) : (first.status & ~0x01),
  }));
}

/**
 * Apply one seeded mutation to the wire bytes of one reply message. `kind` forces a mutation
 * kind (for tests of the mutator itself); otherwise it is drawn from the generator.
 */
export function mutateReply(wire: Buffer, rng: Rng, kind: MutationKind = pick(rng, MUTATIONS)): Mutated {
  const { packets, rest } = splitPackets(wire);
  if (packets.length === 0) {
    // not framed as expected: fall back to raw byte mutations
    kind = pick(rng, ['bit-flip', 'truncate', 'insert-bytes', 'delete-bytes'] as const);
  }
  const payload = packets.length ? Buffer.concat(packets.map((p) => p.data)) : Buffer.from(wire);
  const fields = packets.length ? walkTokens(payload) : [];
  const ofWhat = (w: Field['what'][]) => fields.filter((f) => w.includes(f.what));
  const withPayload = (p: Buffer, detail: string): Mutated => ({ bytes: Buffer.concat([framePackets(repack(packets, p)), rest]), kind, detail });

  switch (kind) {
    case 'bit-flip': {
      const b = Buffer.from(wire);
      const n = 1 + int(rng, 8);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const pos = int(rng, b.length);
        b[pos] ^= 1 << int(rng, 8);
        at.push(pos);
      }
      return { bytes: b, kind, detail: `flipped ${n} bit(s) at ${at.join(',')}` };
    }
    case 'truncate': {
      const keep = int(rng, wire.length);
      return { bytes: wire.subarray(0, keep), kind, detail: `kept ${keep} of ${wire.length} bytes` };
    }
    case 'packet-length': {
      const b = Buffer.from(wire);
      const offs = packetOffsets(packets);
      const o = pick(rng, offs);
      const len = b.readUInt16BE(o + 2);
      const v = pick(rng, [0, 1, 7, 8, 9, len - 1, len + 1, len * 2, 0x7fff, 0xffff, int(rng, 0x10000)]) & 0xffff;
      b.writeUInt16BE(v, o + 2);
      return { bytes: b, kind, detail: `packet at ${o}: length ${len} -> ${v}` };
    }
    case 'packet-type': {
      const b = Buffer.from(wire);
      const o = pick(rng, packetOffsets(packets));
      const v = pick(rng, [0x01, 0x02, 0x03, 0x06, 0x07, 0x0e, 0x10, 0x11, 0x12, 0x00, 0xff, int(rng, 256)]);
      b[o] = v;
      return { bytes: b, kind, detail: `packet at ${o}: type 0x04 -> 0x${v.toString(16)}` };
    }
    case 'packet-status': {
      const b = Buffer.from(wire);
      const o = pick(rng, packetOffsets(packets));
      const v = pick(rng, [0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0xff, int(rng, 256)]);
      b[o + 1] = v;
      return { bytes: b, kind, detail: `packet at ${o}: status 0x${wire[o + 1].toString(16)} -> 0x${v.toString(16)}` };
    }
    case 'reframe': {
      // the same payload cut into packets at other places: a correct client must not care
      const sizes: number[] = [];
      let left = payload.length;
      while (left > 0) { const s = 1 + int(rng, Math.min(left, 64)); sizes.push(s); left -= s; }
      return { bytes: Buffer.concat([framePackets(repack(packets, payload, sizes)), rest]), kind, detail: `payload of ${payload.length} re-cut into ${sizes.length} packets` };
    }
    case 'token-type': {
      const tokens = ofWhat(['token']);
      if (tokens.length === 0) return mutateReply(wire, rng, 'bit-flip');
      const f = pick(rng, tokens);
      const b = Buffer.from(payload);
      const v = rng() < 0.8 ? pick(rng, TOKEN_TYPES) : int(rng, 256);
      const was = b[f.offset];
      b[f.offset] = v;
      return withPayload(b, `token at ${f.offset}: 0x${was.toString(16)} -> 0x${v.toString(16)}`);
    }
    case 'length-field':
    case 'huge-length': {
      const lens = ofWhat(['length', 'count']);
      if (lens.length === 0) return mutateReply(wire, rng, 'bit-flip');
      const f = pick(rng, lens);
      const b = Buffer.from(payload);
      const was = readField(b, f);
      const v = kind === 'huge-length'
        ? pick(rng, EXTREMES[f.size].slice(2))
        : pick(rng, [was - 1n, was + 1n, was * 2n, 0n, ...EXTREMES[f.size]]);
      writeField(b, f, v < 0n ? 0n : v);
      return withPayload(b, `${f.what} at ${f.offset} (${f.size} bytes): ${was} -> ${v < 0n ? 0n : v}`);
    }
    case 'value-field': {
      const vals = ofWhat(['value']);
      if (vals.length === 0) return mutateReply(wire, rng, 'bit-flip');
      const f = pick(rng, vals);
      const b = Buffer.from(payload);
      const was = readField(b, f);
      const v = pick(rng, [...EXTREMES[f.size], was ^ 1n, was + 1n]);
      writeField(b, f, v);
      return withPayload(b, `value at ${f.offset} (${f.size} bytes): ${was} -> ${v}`);
    }
    case 'insert-bytes': {
      const at = int(rng, payload.length + 1);
      const n = 1 + int(rng, 16);
      const junk = Buffer.from(Array.from({ length: n }, () => int(rng, 256)));
      const b = Buffer.concat([payload.subarray(0, at), junk, payload.subarray(at)]);
      return packets.length ? withPayload(b, `inserted ${n} byte(s) at ${at}`) : { bytes: b, kind, detail: `inserted ${n} byte(s) at ${at}` };
    }
    case 'delete-bytes': {
      const at = int(rng, Math.max(payload.length, 1));
      const n = 1 + int(rng, Math.min(32, Math.max(payload.length - at, 1)));
      const b = Buffer.concat([payload.subarray(0, at), payload.subarray(at + n)]);
      return packets.length ? withPayload(b, `deleted ${n} byte(s) at ${at}`) : { bytes: b, kind, detail: `deleted ${n} byte(s) at ${at}` };
    }
    case 'duplicate-range': {
      const at = int(rng, Math.max(payload.length, 1));
      const n = 1 + int(rng, Math.min(64, Math.max(payload.length - at, 1)));
      const b = Buffer.concat([payload.subarray(0, at + n), payload.subarray(at, at + n), payload.subarray(at + n)]);
      return withPayload(b, `duplicated ${n} byte(s) at ${at}`);
    }
  }
}

function packetOffsets(packets: Packet[]): number[] {
  const offs: number[] = [];
  let o = 0;
  for (const p of packets) { offs.push(o); o += 8 + p.data.length; }
  return offs.length ? offs : [0];
}
