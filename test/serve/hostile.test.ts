// Hostile clients, as a table: each row attacks the listener while a real check is asked every
// 50 ms; every real check must still be answered right (200 for the principal) within its limit,
// the attack must get what it deserves (400/404/431, a closed socket), and the daemon's RSS must
// stay bounded. Figures are printed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { startSqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { startServe, configFor, waitForPolls, request, MONITOR_PASSWORD } from './daemon.ts';
import { LIMITS } from '../../src/serve/http.ts';
import { BIN_X64 } from '../helpers/paths.ts';

const sim = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
// the packed binary, as it runs in production (its RSS is the one that matters)
const d = await startServe({ config: configFor({ sql1: { port: sim.port } }, 'interval = 0.2\ntimeout = 2\n'), bin: BIN_X64 });
const rssAtStart = d.rssKb();
after(async () => { await d.stop(); await sim.close(); });
await waitForPolls(d, ['sql1']);
const results: string[] = [];
after(() => { for (const r of results) console.log(r); });
const REAL_CHECK_LIMIT_MS = 500;

/** Raw bytes on a connection of their own; resolves with what came back when the server closed it (or after limitMs). */
function raw(bytes: string | Buffer, limitMs = 8000): Promise<{ text: string; closedByServer: boolean; ms: number }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const s = connect(d.port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    s.on('data', (b: Buffer) => got.push(b));
    s.on('error', () => {});
    s.on('close', () => { closed = true; finish(); });
    const timer = setTimeout(() => { s.destroy(); finish(); }, limitMs);
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text: Buffer.concat(got).toString('latin1'), closedByServer: closed, ms: performance.now() - start });
    }
    s.write(bytes);
  });
}

/** Ask the real check every 50 ms while `attack` runs; every answer must be right and quick. */
async function underAttack(name: string, attack: () => Promise<string>): Promise<void> {
  const rssBefore = d.rssKb();
  const polledBefore = sim.stats.rpcs;
  let stop = false;
  const latencies: number[] = [];
  const checker = (async () => {
    while (!stop) {
      const r = await request(d.port, '/sql1/primary', 'GET', {}, 5000);
      assert.equal(r.status, 200, `${name}: the real check: ${r.text.slice(0, 200)}`);
      latencies.push(r.ms);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  let what: string;
  try {
    // at least a few polls' time, so that the polls are seen to go on
    [what] = await Promise.all([attack(), new Promise((r) => setTimeout(r, 700))]);
  } finally {
    stop = true;
    await checker;
  }
  const rssAfter = d.rssKb();
  latencies.sort((x, y) => x - y);
  const worst = latencies.at(-1)!;
  const p50 = latencies[Math.floor(latencies.length / 2)];
  results.push(`${name.padEnd(30)} real checks: ${latencies.length}, p50 ${p50.toFixed(1)} ms, worst ${worst.toFixed(1)} ms; RSS ${(rssBefore / 1024).toFixed(0)} → ${(rssAfter / 1024).toFixed(0)} MB; polls went on: ${sim.stats.rpcs - polledBefore}; ${what}`);
  assert.ok(latencies.length > 0);
  assert.ok(worst < REAL_CHECK_LIMIT_MS, `${name}: a real check took ${worst.toFixed(0)} ms`);
  assert.ok(rssAfter - rssBefore < 60 * 1024, `${name}: RSS grew by ${((rssAfter - rssBefore) / 1024).toFixed(0)} MB`);
  assert.ok(sim.stats.rpcs > polledBefore, `${name}: the polls stopped`);
}

const ROWS: Array<[string, () => Promise<string>]> = [
  ['slowloris (200 partial headers)', async () => {
    const sockets: Socket[] = [];
    const closedAt: number[] = [];
    const start = performance.now();
    for (let i = 0; i < 200; i++) {
      const s = connect(d.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedAt.push(performance.now() - start));
      s.write('GET /sql1/primary HTTP/1.1\r\nHost: x\r\n');
      sockets.push(s);
    }
    // a byte now and then, as slowloris sends, never the end of the headers
    const drip = setInterval(() => { for (const s of sockets) if (!s.destroyed) s.write('X-a: b\r\n'); }, 1000);
    const limit = LIMITS.headersTimeoutMs + 3000;
    while (closedAt.length < sockets.length && performance.now() - start < limit) await new Promise((r) => setTimeout(r, 100));
    clearInterval(drip);
    for (const s of sockets) s.destroy();
    assert.equal(closedAt.length, 200, `the server closed ${closedAt.length} of 200 slow sockets within ${limit} ms`);
    return `all 200 closed by the server after ${(Math.max(...closedAt) / 1000).toFixed(1)} s (headersTimeout ${LIMITS.headersTimeoutMs / 1000} s)`;
  }],
  ['10 000 malformed requests', async () => {
    const junk = ['GARBAGE\r\n\r\n', 'GET\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', '\x00\x01\x02\x03\r\n\r\n', 'GET /sql1/primary HTTP/1.1\r\nHost x\r\n\r\n', 'GET /sql1/primary HTTP/1.1\r\nContent-Length: -1\r\n\r\n'];
    let answered400 = 0;
    let n = 0;
    const worker = async () => {
      while (n < 10_000) {
        const i = n++;
        const r = await raw(junk[i % junk.length], 5000);
        if (/^HTTP\/1\.1 400 /.test(r.text)) answered400++;
        assert.ok(r.closedByServer, 'the server closes a malformed request\'s socket');
        assert.ok(!/ 200 /.test(r.text), `a malformed request answered 200: ${JSON.stringify(junk[i % junk.length])}`);
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    return `${answered400} answered 400, every socket closed`;
  }],
  ['oversized and too many headers', async () => {
    const big = await raw(`GET /sql1/primary HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(LIMITS.maxHeaderSize * 2)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431 /, 'oversized headers: 431');
    const many = Array.from({ length: 500 }, (_, i) => `X-H${i}: v`).join('\r\n');
    const m = await raw(`GET /sql1/primary HTTP/1.1\r\nHost: x\r\n${many}\r\nConnection: close\r\n\r\n`);
    assert.match(m.text, /^HTTP\/1\.1 (200|431) /, 'many headers: only the first ones are read (maxHeadersCount), or refused as too large');
    return `oversized: 431; 500 headers: ${m.text.slice(9, 12)}`;
  }],
  ['path traversal and odd paths', async () => {
    const paths = ['/../etc/passwd', '/%2e%2e/etc/passwd', '/sql1/../sql1/primary', '/sql1/%2e%2e/primary', '//sql1/primary', '/sql1%2fprimary',
      '/./sql1/primary', '/sql1/primary/../../etc/passwd', '/etc/passwd', '/sql1/primary%00', '/SQL1/primary', `/${'a'.repeat(5000)}`, '/sql1/primary?database=../../etc/passwd'];
    const seen: string[] = [];
    for (const p of paths) {
      const r = await raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const status = r.text.slice(9, 12);
      seen.push(status);
      // 503: a role of a target the config does not have (/SQL1/primary: names are case-sensitive)
      assert.ok(['400', '404', '431', '503'].includes(status), `${p}: ${status}`);
      assert.ok(!r.text.includes('root:'), `${p}: a file's contents`);
    }
    return `${paths.length} paths: ${[...new Set(seen)].join('/')} only`;
  }],
  ['unknown targets (2000)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    const one = (i: number) => new Promise<number>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: d.port, path: `/t${i}/primary`, agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); }).on('error', reject).end();
    });
    const statuses = await Promise.all(Array.from({ length: 2000 }, (_, i) => one(i)));
    agent.destroy();
    assert.ok(statuses.every((s) => s === 503));
    return '2000 x 503';
  }],
  ['flood while polls run (50 clients x 200)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    let ok = 0;
    const start = performance.now();
    const client = async () => {
      for (let i = 0; i < 200; i++) {
        await new Promise<void>((resolve, reject) => {
          httpRequest({ host: '127.0.0.1', port: d.port, path: i % 3 ? '/sql1/primary' : '/sql1', agent }, (res) => {
            res.resume();
            res.on('end', () => { if (res.statusCode === 200) ok++; resolve(); });
          }).on('error', reject).end();
        });
      }
    };
    await Promise.all(Array.from({ length: 50 }, client));
    const s = (performance.now() - start) / 1000;
    agent.destroy();
    assert.equal(ok, 10_000);
    return `10 000 answered 200 in ${s.toFixed(1)} s (${(10_000 / s).toFixed(0)} requests/s)`;
  }],
];

for (const [name, attack] of ROWS) {
  test(`hostile: ${name}`, { timeout: 120_000 }, () => underAttack(name, attack));
}

test('hostile: after every row, the RSS is still bounded', () => {
  const rss = d.rssKb();
  results.push(`RSS: ${(rssAtStart / 1024).toFixed(0)} MB at start, ${(rss / 1024).toFixed(0)} MB after every row`);
  assert.ok(rss < 200 * 1024, `${(rss / 1024).toFixed(0)} MB`);
});

test('hostile: no password in any answer (a GET of every endpoint after the attacks)', async () => {
  for (const p of ['/sql1/primary', '/sql1', '/health', '/metrics', '/sql1/secondary?max-lag=1']) {
    const r = await d.get(p);
    assert.ok(!r.text.includes(MONITOR_PASSWORD), p);
  }
  for (const l of d.lines) assert.ok(!l.includes(MONITOR_PASSWORD), l);
});
