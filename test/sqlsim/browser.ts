// SQL Server Browser (MS-SQLR): a UDP responder telling clients which TCP port a named instance
// listens on. Requests: CLNT_BCAST_EX (0x02, [MC-SQLR] 2.2.1) and CLNT_UCAST_EX (0x03, 2.2.2) ask
// for every instance (tedious sends 0x02 to one server; mssql-role-check sends 0x03),
// CLNT_UCAST_INST (0x04) for one, CLNT_UCAST_DAC (0x0F) for the dedicated admin port. The answer
// is SVR_RESP (0x05), a little-endian length, then "key;value;" pairs, instances ending in ";;".

import * as dgram from 'node:dgram';

export interface BrowserInstance {
  name: string;
  port: number;
  serverName?: string;
  version?: string;
  dacPort?: number;
}

export interface BrowserOptions {
  instances: BrowserInstance[];
  host?: string;
  /** default 1434, SQL Server Browser's port */
  port?: number;
  serverName?: string;
  /** don't answer at all (a Browser that is down or filtered) */
  silent?: boolean;
}

export interface Browser {
  readonly host: string;
  readonly port: number;
  instances: BrowserInstance[];
  silent: boolean;
  readonly requests: number;
  close(): Promise<void>;
}

const CLNT_BCAST_EX = 0x02;
const CLNT_UCAST_EX = 0x03;
const CLNT_UCAST_INST = 0x04;
const CLNT_UCAST_DAC = 0x0f;
const SVR_RESP = 0x05;

export function describeInstance(i: BrowserInstance, serverName: string): string {
  return `ServerName;${i.serverName ?? serverName};InstanceName;${i.name};IsClustered;No;Version;${i.version ?? '16.0.1000.6'};tcp;${i.port};;`;
}

function response(text: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = SVR_RESP;
  head.writeUInt16LE(text.length, 1);
  return Buffer.concat([head, text]);
}

/** The reply to one request, or null when a real Browser would stay silent. */
export function browserReply(request: Buffer, instances: BrowserInstance[], serverName: string): Buffer | null {
  if (request.length === 0) return null;
  switch (request[0]) {
    case CLNT_UCAST_EX:
    case CLNT_BCAST_EX: {
      if (instances.length === 0) return null;
      return response(Buffer.from(instances.map((i) => describeInstance(i, serverName)).join(''), 'latin1'));
    }
    case CLNT_UCAST_INST: {
      const name = request.subarray(1).toString('latin1').replace(/\0.*$/s, '');
      const found = instances.find((i) => i.name.toUpperCase() === name.toUpperCase());
      return found ? response(Buffer.from(describeInstance(found, serverName), 'latin1')) : null;
    }
    case CLNT_UCAST_DAC: {
      const name = request.subarray(2).toString('latin1').replace(/\0.*$/s, '');
      const found = instances.find((i) => i.name.toUpperCase() === name.toUpperCase());
      if (!found?.dacPort) return null;
      const b = Buffer.alloc(6);
      b[0] = SVR_RESP;
      b.writeUInt16LE(6, 1);
      b[3] = 0x01; // protocol version
      b.writeUInt16LE(found.dacPort, 4);
      return b;
    }
  }
  return null;
}

export async function startBrowser(options: BrowserOptions): Promise<Browser> {
  const host = options.host ?? '127.0.0.1';
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const serverName = options.serverName ?? 'SQLSIM';
  let requests = 0;
  const browser: Browser = {
    host,
    port: 0,
    instances: options.instances,
    silent: options.silent ?? false,
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, peer) => {
    requests++;
    if (browser.silent) return;
    const reply = browserReply(msg, browser.instances, serverName);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: options.port ?? 1434, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
  (browser as { port: number }).port = socket.address().port;
  return browser;
}
