// The TCP port of a named instance, from SQL Server Browser (SSRP, [MC-SQLR]) on UDP 1434. Asked
// here rather than by the driver so that the host's addresses come from resolve.ts (the driver's
// Browser lookup calls dns.lookup) and the wait ends with the run's deadline.
import type { Socket } from 'node:dgram';
import type { Address } from './resolve.ts';
import { ProbeFailure } from './types.ts';

export const BROWSER_PORT = 1434;
/** [MC-SQLR] 2.2.2 CLNT_UCAST_EX: one byte, 0x03; the answer lists every instance of the server. */
const CLNT_UCAST_EX = 0x03;
/** [MC-SQLR] 2.2.5 SVR_RESP: 0x05, RESP_SIZE (2 bytes, little-endian), RESP_DATA. */
const SVR_RESP = 0x05;
/** UDP may lose the request or the answer: asked again this often until the deadline. */
const RESEND_MS = 1000;

/** A lookup that cannot succeed; `code` is TIMEOUT when the deadline came first. */
export class BrowserError extends ProbeFailure {
  constructor(message: string, code: 'EINSTLOOKUP' | 'TIMEOUT' = 'EINSTLOOKUP') {
    super({ code, message });
  }
}

/**
 * The instances of an SVR_RESP as name → properties ([MC-SQLR] 2.2.5: "key;value;" pairs, each
 * instance ending in ";;"); null when the datagram is not an SVR_RESP.
 */
export function parseBrowserResponse(msg: Buffer): Map<string, Map<string, string>> | null {
  if (msg.length < 3 || msg[0] !== SVR_RESP || msg.readUInt16LE(1) !== msg.length - 3) return null;
  const instances = new Map<string, Map<string, string>>();
  for (const text of msg.subarray(3).toString('latin1').split(';;')) {
    const parts = text.split(';');
    const props = new Map<string, string>();
    for (let i = 0; i + 1 < parts.length; i += 2) props.set(parts[i].toLowerCase(), parts[i + 1]);
    const name = props.get('instancename');
    if (name !== undefined) instances.set(name.toUpperCase(), props);
  }
  return instances;
}

/** The port `instance` listens on, or why there is none, from one answer. */
export function portFromResponse(instances: Map<string, Map<string, string>>, instance: string, host: string): number | BrowserError {
  const props = instances.get(instance.toUpperCase());
  if (!props) {
    const names = [...instances.values()].map((p) => p.get('instancename')).join(', ');
    return new BrowserError(`no instance ${instance} on ${host} (its SQL Server Browser lists ${names || 'none'})`);
  }
  const tcp = props.get('tcp');
  if (tcp === undefined) return new BrowserError(`instance ${instance} on ${host} does not listen on TCP`);
  const port = /^\d{1,5}$/.test(tcp) ? Number(tcp) : 0;
  if (port < 1 || port > 65535) return new BrowserError(`the SQL Server Browser on ${host} gave instance ${instance} the TCP port ${JSON.stringify(tcp)}`);
  return port;
}

/** Ask every address of the host at once; the first answer decides. */
export function instancePort(host: string, addresses: Address[], instance: string, remainingMs: () => number,
  timeoutText: () => string): Promise<number> {
  const dgram = process.getBuiltinModule('node:dgram'); // loaded only for --instance
  return new Promise((resolve, reject) => {
    const sockets: Socket[] = [];
    const sendErrors: string[] = [];
    let settled = false;
    const end = (result: number | BrowserError) => {
      if (settled) return;
      settled = true;
      clearInterval(resend);
      clearTimeout(deadline);
      for (const s of sockets) s.close();
      if (typeof result === 'number') resolve(result);
      else reject(result);
    };
    const send = () => {
      for (const [i, s] of sockets.entries()) {
        s.send(Buffer.from([CLNT_UCAST_EX]), BROWSER_PORT, addresses[i].address, (err) => {
          if (!err || settled) return;
          sendErrors.push(`${addresses[i].address}: ${err.message}`);
          if (sendErrors.length === sockets.length) end(new BrowserError(`cannot reach the SQL Server Browser on ${host}: ${sendErrors.join('; ')}`));
        });
      }
      sendErrors.length = 0;
    };
    for (const a of addresses) {
      const s = dgram.createSocket(a.family === 6 ? 'udp6' : 'udp4');
      s.on('error', () => { /* a send's error also comes to its callback */ });
      s.on('message', (msg) => {
        const instances = parseBrowserResponse(msg);
        if (instances) end(portFromResponse(instances, instance, host));
      });
      sockets.push(s);
    }
    const resend = setInterval(send, RESEND_MS);
    const deadline = setTimeout(() => end(new BrowserError(timeoutText(), 'TIMEOUT')), Math.max(0, remainingMs()));
    send();
  });
}
