// Probe ports (src/serve/probe-ports.ts): the value of probe-port as a table, then real listeners
// on loopback: open while the target passes, refused when it does not, held connections reset at
// the change, the last wish wins when changes come faster than the listener, a port in use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { ProbePorts, parseProbePort } from '../src/serve/probe-ports.ts';
import type { ProbePort } from '../src/serve/probe-ports.ts';

test('probe-port values', () => {
  const rows: [string, { host: string; port: number } | string][] = [
    ['5022', { host: '127.0.0.1', port: 5022 }],
    [' 59999 ', { host: '127.0.0.1', port: 59999 }],
    ['10.0.0.5:59999', { host: '10.0.0.5', port: 59999 }],
    ['[::1]:59999', { host: '::1', port: 59999 }],
    ['0.0.0.0:1', { host: '0.0.0.0', port: 1 }],
    ['0', 'expected a TCP port 1..65535, not 0'],
    ['65536', 'expected a TCP port 1..65535'],
    ['http', 'expected a TCP port, or ADDRESS:PORT'],
    ['host.example:80', 'expected a TCP port, or ADDRESS:PORT'],
    ['999.1.1.1:80', 'is not an IP address'],
    ['[1.2.3.4]:80', 'is not an IP address'],
    ['::1:80', 'expected a TCP port, or ADDRESS:PORT'],
    ['', 'expected a TCP port'],
  ];
  for (const [value, want] of rows) {
    const got = parseProbePort(value, '127.0.0.1');
    if (typeof want === 'string') assert.ok('error' in got && got.error.includes(want), `${JSON.stringify(value)}: ${JSON.stringify(got)}`);
    else assert.deepEqual(got, want, value);
  }
});

/** A free loopback port: bound by the kernel's choice, then released. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** 'open' when a TCP connection is accepted, else the error code (ECONNREFUSED). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve('open'); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}
async function until(what: () => Promise<boolean>, ms = 2000): Promise<number> {
  const t0 = performance.now();
  while (!(await what())) {
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}

const logs: string[] = [];
const ports = new ProbePorts((l) => logs.push(l), { maxConnections: 4, idleMs: 5000 });
after(() => ports.close());

// (the connections tryConnect() opens and drops are still half-closed on the server side when the
// port closes: the case where resetAndDestroy() would spin; see resetOrDestroy)
test('probe port: listens while the target passes, refuses when it does not, resets what it held', async () => {
  const spec: ProbePort = { target: 'sql1', host: '127.0.0.1', port: await freePort(), role: 'primary' };
  assert.equal(await tryConnect(spec.port), 'ECONNREFUSED', 'closed before the first set()');
  ports.set([{ spec, pass: true, reason: '' }]);
  const openMs = await until(async () => (await tryConnect(spec.port)) === 'open');
  assert.ok(ports.isOpen(spec));

  // a connection held open, as a probe that lingers
  const held: Socket = connect(spec.port, '127.0.0.1');
  await new Promise((ok) => held.on('connect', ok));
  const heldError = new Promise<string>((resolve) => {
    held.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    held.on('close', () => resolve('closed without an error'));
  });

  const t0 = performance.now();
  ports.set([{ spec, pass: false, reason: 'database "appdb": mirroring role is MIRROR, not PRINCIPAL' }]);
  assert.equal(await heldError, 'ECONNRESET', 'the held connection is reset');
  const closeMs = await until(async () => (await tryConnect(spec.port)) === 'ECONNREFUSED');
  const total = performance.now() - t0;
  assert.ok(!ports.isOpen(spec));
  assert.ok(total < 500, `refused ${total.toFixed(1)} ms after the change`);
  console.log(`probe port: open ${openMs.toFixed(1)} ms after set(pass), refused ${total.toFixed(1)} ms after set(fail) (${closeMs.toFixed(1)} ms of polling)`);
  assert.ok(logs.some((l) => l.includes(`probe port 127.0.0.1:${spec.port} (sql1 primary): opens`)), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes(`probe port 127.0.0.1:${spec.port} (sql1 primary): closes: database "appdb": mirroring role is MIRROR`)), logs.join('\n'));
});

test('probe port: changes faster than the listener end in the latest wish', async () => {
  const spec: ProbePort = { target: 'sql2', host: '127.0.0.1', port: await freePort(), role: 'primary' };
  for (let i = 0; i < 50; i++) ports.set([{ spec, pass: i % 2 === 0, reason: 'flap' }]);
  // the last was pass: false (i = 49)
  await until(async () => !ports.isOpen(spec) && (await tryConnect(spec.port)) === 'ECONNREFUSED');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await tryConnect(spec.port), 'ECONNREFUSED');
  for (let i = 0; i < 51; i++) ports.set([{ spec, pass: i % 2 === 0, reason: 'flap' }]);
  await until(async () => (await tryConnect(spec.port)) === 'open');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await tryConnect(spec.port), 'open');
  ports.set([]); // no longer configured: closed
  await until(async () => (await tryConnect(spec.port)) === 'ECONNREFUSED');
});

test('probe port: a port in use is logged once and taken when it frees', async () => {
  const squatter = createServer();
  await new Promise<void>((ok) => squatter.listen(0, '127.0.0.1', ok));
  const spec: ProbePort = { target: 'sql3', host: '127.0.0.1', port: (squatter.address() as AddressInfo).port, role: 'primary' };
  const before = logs.length;
  for (let i = 0; i < 5; i++) {
    ports.set([{ spec, pass: true, reason: '' }]);
    await new Promise((r) => setTimeout(r, 20));
  }
  const failures = logs.slice(before).filter((l) => l.includes('cannot listen: EADDRINUSE'));
  assert.equal(failures.length, 1, logs.slice(before).join('\n'));
  assert.ok(!ports.isOpen(spec));
  await new Promise((ok) => squatter.close(ok));
  ports.set([{ spec, pass: true, reason: '' }]);
  await until(async () => ports.isOpen(spec));
  ports.set([]);
  await until(async () => !ports.isOpen(spec));
});

test('probe port: connections beyond maxConnections are not held', async () => {
  const spec: ProbePort = { target: 'sql4', host: '127.0.0.1', port: await freePort(), role: 'primary' };
  ports.set([{ spec, pass: true, reason: '' }]);
  await until(async () => ports.isOpen(spec));
  const socks = await Promise.all([...Array(8)].map(() => new Promise<{ s: Socket; closedEarly: Promise<boolean> }>((resolve) => {
    const s = connect(spec.port, '127.0.0.1');
    const closedEarly = new Promise<boolean>((r) => { s.on('close', () => r(true)); setTimeout(() => r(false), 300); });
    s.on('error', () => {});
    s.on('connect', () => resolve({ s, closedEarly }));
  })));
  const closed = (await Promise.all(socks.map((x) => x.closedEarly))).filter(Boolean).length;
  assert.equal(closed, 4, 'the four beyond maxConnections are closed');
  for (const x of socks) x.s.destroy();
  ports.set([]);
});
