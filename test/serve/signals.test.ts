// Signals: SIGHUP reloads (a changed target reconnects, an unchanged one keeps its connection, a
// bad config is refused in one line and the old one keeps serving); SIGTERM and SIGINT stop with
// exit 0 within 1 s. Then the packed binaries (x64, and arm64 under qemu) run serve: they load
// the serve chunk and the probe chunk from their assets, answer, and stop on SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startSqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { BIN_X64, BIN_ARM64 } from '../helpers/paths.ts';
import { startServe, configFor, waitForStatus, waitForPolls } from './daemon.ts';

const principal = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
const mirror = await startSqlSim({ scenario: scenarioFile('mirror'), host: '127.0.0.1' });
const other = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
after(() => Promise.all([principal.close(), mirror.close(), other.close()]));
const defaults = 'interval = 0.2\ntimeout = 2\n';

test('SIGHUP: a good config is taken (changed targets reconnect, unchanged ones keep their connection); a bad one is refused and the old one keeps serving', { timeout: 30_000 }, async () => {
  const d = await startServe({ config: configFor({ keep: { port: principal.port }, move: { port: mirror.port }, gone: { port: mirror.port } }, defaults) });
  try {
    await waitForPolls(d, ['keep', 'move', 'gone']);
    assert.equal((await d.get('/move/primary')).status, 503);
    const keptLogins = principal.stats.logins;
    // move now points at another principal; gone leaves; added comes
    d.writeConfig(configFor({ keep: { port: principal.port }, move: { port: other.port }, added: { port: other.port } }, defaults));
    let from = d.lines.length;
    d.child.kill('SIGHUP');
    const line = await d.waitForLine(/reloaded /, 5000, from);
    assert.match(line, /kept keep; reconnecting move; added added; removed gone/);
    await waitForStatus(d, '/move/primary', 200, 3000);
    await waitForStatus(d, '/added/primary', 200, 3000);
    const gone = await d.get('/gone/primary');
    assert.equal(gone.status, 503, 'a removed target is no longer known (a 503, never a pass)');
    assert.match(JSON.parse(gone.text).error, /no such target "gone"/);
    assert.equal(principal.stats.logins, keptLogins, 'the unchanged target kept its connection: no new login');
    assert.equal((await d.get('/keep/primary')).status, 200);

    // a bad config: one line, the old one serves on
    d.writeConfig(configFor({ keep: { port: principal.port } }, defaults) + 'port = 99999\n');
    from = d.lines.length;
    d.child.kill('SIGHUP');
    const refused = await d.waitForLine(/reload refused/, 5000, from);
    assert.match(refused, /reload refused, the running config stays: \S+serve\.conf line \d+: "port" is already set on line \d+/);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(d.lines.slice(from).filter((l) => /reload/.test(l)).length, 1, 'one line');
    assert.equal((await d.get('/move/primary')).status, 200, 'the old config keeps serving');
    assert.equal((await d.get('/added/primary')).status, 200);
    assert.equal(d.child.exitCode, null, 'still running');
  } finally {
    await d.stop();
  }
});

test('SIGHUP with another listen address: the new listener answers, the old one is closed; an address that cannot be bound is refused', { timeout: 30_000 }, async () => {
  const d = await startServe({ config: configFor({ sql1: { port: principal.port } }, defaults) });
  try {
    await waitForPolls(d, ['sql1']);
    const { freePort } = await import('../peers/harness.ts');
    const port = await freePort();
    d.writeConfig(configFor({ sql1: { port: principal.port } }, defaults).replace('listen = 127.0.0.1:0', `listen = 127.0.0.1:${port}`));
    let from = d.lines.length;
    d.child.kill('SIGHUP');
    await d.waitForLine(/reloaded .*kept sql1/, 5000, from);
    const { request } = await import('./daemon.ts');
    assert.equal((await request(port, '/sql1/primary')).status, 200, 'the new listener');
    await assert.rejects(request(d.port, '/sql1/primary', 'GET', {}, 2000), 'the old listener is closed');
    // the same port taken by someone else: refused, the running listener stays
    const { createServer } = await import('node:net');
    const squatter = createServer();
    const taken = await freePort();
    await new Promise<void>((r) => squatter.listen(taken, '127.0.0.1', r));
    d.writeConfig(configFor({ sql1: { port: principal.port } }, defaults).replace('listen = 127.0.0.1:0', `listen = 127.0.0.1:${taken}`));
    from = d.lines.length;
    d.child.kill('SIGHUP');
    assert.match(await d.waitForLine(/reload refused/, 5000, from), /listen 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    squatter.close();
    assert.equal((await request(port, '/sql1/primary')).status, 200, 'still answering where it was');
  } finally {
    await d.stop();
  }
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`${sig}: listeners and connections closed, exit 0 within 1 s`, { timeout: 30_000 }, async () => {
    const d = await startServe({ config: configFor({ sql1: { port: principal.port } }, defaults) });
    await waitForPolls(d, ['sql1']);
    const open = principal.openConnections();
    const r = await d.stop(sig);
    console.log(`${sig}: exit ${r.code} after ${r.ms.toFixed(0)} ms`);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 1000, `${r.ms} ms`);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(principal.openConnections() < open, 'its connection to the server is closed');
  });
}

const BINARIES: Array<[string, string, string[]]> = [['x64', BIN_X64, []], ['arm64 (qemu)', BIN_ARM64, ['qemu-aarch64-static']]];
for (const [arch, bin, via] of BINARIES) {
  test(`the packed ${arch} binary runs serve: answers from its poll, logs, stops on SIGTERM with exit 0`, { timeout: 60_000 }, async () => {
    assert.ok(existsSync(bin), `${bin} is missing: run make first`);
    // emulated, the first login takes seconds: a deadline of 8 s, as the deadline tests give arm64
    const d = await startServe({ config: configFor({ sql1: { port: principal.port }, sql2: { port: mirror.port } }, 'interval = 0.5\ntimeout = 8\n'), bin, via, limitMs: 30_000 });
    try {
      await waitForPolls(d, ['sql1', 'sql2'], 20_000);
      const p = await d.get('/sql1/primary');
      assert.equal(p.status, 200, p.text);
      assert.equal((await d.get('/sql2/primary')).status, 503);
      const m = await d.get('/metrics');
      assert.match(m.text, /mssql_role_check_role\{target="sql1",database="appdb",role="primary"\} 1/);
      assert.ok(d.lines.some((l) => /sql1: database "appdb" as primary: unknown -> pass/.test(l)), d.lines.join('\n'));
      assert.ok(!d.lines.some((l) => /reconnecting/.test(l)), `one login: ${d.lines.join('\n')}`);
    } finally {
      const r = await d.stop();
      console.log(`${arch}: SIGTERM → exit ${r.code} after ${r.ms.toFixed(0)} ms`);
      assert.equal(r.code, 0);
    }
  });
}
