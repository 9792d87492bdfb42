// A DNS server for tests (RFC 1035 over UDP): it answers A and AAAA questions from a table, and
// can answer slowly, never answer, or say NXDOMAIN, per name. It logs every question it gets, so
// a test can see which names a resolver asked (search domains, ndots).
import * as dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface FakeRecord {
  a?: string[];
  aaaa?: string[];
  /** answer after this many ms */
  delayMs?: number;
  /** never answer this name (or only these types) */
  silent?: boolean | Array<'A' | 'AAAA'>;
  /** NXDOMAIN (RCODE 3) */
  nxdomain?: boolean;
  /** SERVFAIL (RCODE 2) */
  servfail?: boolean;
}

export interface FakeDns {
  readonly host: string;
  readonly port: number;
  /** lower-case names without the final dot */
  records: Record<string, FakeRecord>;
  /** every question as "TYPE name", in arrival order */
  readonly questions: string[];
  close(): Promise<void>;
}

const TYPE = { A: 1, AAAA: 28 } as const;
const TYPE_NAME: Record<number, string> = { 1: 'A', 28: 'AAAA' };

/** The question of a query: its name (as sent) and type, and where the question section ends. */
function parseQuestion(msg: Buffer): { name: string; qtype: number; end: number } | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const n = msg[i];
    if (n > 63 || i + 1 + n > msg.length) return null;
    labels.push(msg.subarray(i + 1, i + 1 + n).toString('latin1'));
    i += 1 + n;
  }
  if (i + 5 > msg.length) return null;
  return { name: labels.join('.'), qtype: msg.readUInt16BE(i + 1), end: i + 5 };
}

function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new Error(`not an address: ${address}`);
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, k) => b.writeUInt16BE(parseInt(g, 16), k * 2));
  return b;
}

/** The reply to `query`: the question echoed, then one answer per address (TTL 60). */
export function dnsReply(query: Buffer, rcode: number, addresses: string[], qtype: number, questionEnd: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(query.readUInt16BE(0), 0); // id
  head.writeUInt16BE(0x8180 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, RD copied, RA, RCODE
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((a) => {
    const data = addressBytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([head, query.subarray(12, questionEnd), ...answers]);
}

export async function startFakeDns(opts: {
  host: string; port?: number; records?: Record<string, FakeRecord>; onQuestion?: (question: string) => void;
}): Promise<FakeDns> {
  const socket = dgram.createSocket(opts.host.includes(':') ? 'udp6' : 'udp4');
  const timers = new Set<NodeJS.Timeout>();
  const dns: FakeDns = {
    host: opts.host,
    port: 0,
    records: opts.records ?? {},
    questions: [],
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      socket.close(() => resolve());
    }),
  };
  socket.on('message', (msg, peer) => {
    const q = parseQuestion(msg);
    if (!q) return;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    const typeName = TYPE_NAME[q.qtype] ?? String(q.qtype);
    dns.questions.push(`${typeName} ${name}`);
    opts.onQuestion?.(`${typeName} ${name}`);
    const r = dns.records[name];
    if (r && (r.silent === true || (Array.isArray(r.silent) && r.silent.includes(typeName as 'A' | 'AAAA')))) return;
    let reply: Buffer;
    if (!r || r.nxdomain) reply = dnsReply(msg, 3, [], q.qtype, q.end);
    else if (r.servfail) reply = dnsReply(msg, 2, [], q.qtype, q.end);
    else reply = dnsReply(msg, 0, q.qtype === TYPE.A ? r.a ?? [] : q.qtype === TYPE.AAAA ? r.aaaa ?? [] : [], q.qtype, q.end);
    const send = () => socket.send(reply, peer.port, peer.address, () => {});
    if (r?.delayMs) {
      const t = setTimeout(() => { timers.delete(t); send(); }, r.delayMs);
      timers.add(t);
    } else send();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: opts.host, port: opts.port ?? 53, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
  (dns as { port: number }).port = socket.address().port;
  return dns;
}

// As a process of its own (inside a network namespace):
//   node test/helpers/fake-dns.ts --host 0.0.0.0 [--port 53] --records JSON
// prints "listening HOST:PORT", then "question TYPE NAME" for every question.
if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const server = await startFakeDns({
    host: arg('host') ?? '127.0.0.1', port: Number(arg('port') ?? 53), records: JSON.parse(arg('records') ?? '{}') as Record<string, FakeRecord>,
    onQuestion: (q) => process.stdout.write(`question ${q}\n`),
  });
  process.stdout.write(`listening ${server.host}:${server.port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}
