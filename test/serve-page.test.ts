// The status page (src/serve/page.ts) and the #15 config names: every value the page shows is
// escaped, the history stays bounded, the role is shown from the facts; agent-listen, probe-port
// and probe-role refused with file and line when wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, escapeHtml, renderPage, roleShown } from '../src/serve/page.ts';
import type { PageData } from '../src/serve/page.ts';
import { parseServeConfig } from '../src/serve/config.ts';
import { probePortsOf, agentListenOf } from '../src/serve/extras.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { codeBlocks } from './helpers/readme-blocks.ts';
import { agPrimary, agSecondary, mirror, principal, standalone } from './helpers/serve-targets.ts';

const EVIL = `<script>alert("x")</script>&'`;

function data(over: Partial<PageData> = {}): PageData {
  return {
    generatedAt: '2026-01-01T00:00:00.000Z', refreshSeconds: 5,
    rows: [{ target: EVIL, server: EVIL, database: EVIL, asked: EVIL, role: EVIL, verdict: 'fail', status: 503, reason: EVIL, ageSeconds: 0.25,
      lastChange: { at: 0, target: EVIL, database: EVIL, from: 'pass', to: 'fail', reason: EVIL } }],
    groups: [{ name: EVIL, members: [EVIL, 'b'], primary: EVIL, reason: EVIL }],
    splitBrains: [EVIL], probePorts: [{ target: EVIL, address: EVIL, role: EVIL, open: true }],
    changes: [{ at: 0, target: EVIL, database: EVIL, from: 'unknown', to: 'fail', reason: EVIL }],
    ...over,
  };
}

test('page: every value is escaped; no script, no external asset; it refreshes itself and has a viewport', () => {
  const html = renderPage(data());
  assert.ok(!html.includes('<script'), 'no script element');
  assert.ok(!html.includes(EVIL));
  const escaped = escapeHtml(EVIL);
  assert.equal(escaped, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  // target, server, database, asked, role, reason (row and change), group name, member, primary, why, split brain, probe port x3, change target/database
  assert.ok(html.split(escaped).length - 1 >= 15, `escaped ${html.split(escaped).length - 1} times`);
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'nothing fetched from elsewhere');
  assert.match(html, /<meta http-equiv="refresh" content="5">/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.match(html, /@media \(max-width:640px\)/);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
});

test('page: rows carry their verdicts; no change yet, no group, no probe port', () => {
  const html = renderPage(data({ rows: [{ ...data().rows[0], target: 'sql1', database: 'appdb', verdict: 'pass', lastChange: null }], groups: [], probePorts: [], changes: [], splitBrains: [] }));
  assert.match(html, /<tr data-target="sql1" data-database="appdb" data-verdict="pass">/);
  assert.match(html, /none seen/);
  assert.match(html, /No change seen since the daemon started/);
  assert.ok(!html.includes('<h2>Groups</h2>') && !html.includes('<h2>Probe ports</h2>') && !html.includes('data-split-brain'));
});

test('history: bounded, newest first, the last change of each target and database', () => {
  const h = new History(3);
  for (let i = 0; i < 10; i++) h.add({ at: i, target: `t${i % 2}`, database: 'db', from: 'pass', to: 'fail', reason: String(i) });
  assert.deepEqual(h.list().map((c) => c.at), [9, 8, 7]);
  assert.equal(h.lastOf('t0', 'db')!.at, 8);
  assert.equal(h.lastOf('t1', 'db')!.at, 9);
  assert.equal(h.lastOf('t2', 'db'), null);
  h.forget((t) => t !== 't0');
  assert.equal(h.lastOf('t0', 'db'), null);
});

test('roleShown: what the server says it is', () => {
  const rows: [ReturnType<typeof principal> | undefined, string][] = [
    [principal(), 'mirroring PRINCIPAL, SYNCHRONIZED'],
    [mirror('SUSPENDED'), 'mirroring MIRROR, SUSPENDED'],
    [agPrimary('NONE'), 'ag1: PRIMARY'],
    [agSecondary('WSFC'), 'ag1: SECONDARY'],
    [standalone(), 'ONLINE, READ_WRITE'],
    [standalone({ state_desc: 'RESTORING' }), 'RESTORING'],
    [{ ...standalone(), database_id: null }, 'not found'],
    [undefined, 'unknown (no fresh facts)'],
  ];
  for (const [f, want] of rows) assert.equal(roleShown(f), want);
});

// --- the config names of #15 -----------------------------------------------------------------------

const base = 'user = monitor\npassword = x\ndatabase = appdb\nencrypt = off\n';
test('config: agent-listen, probe-port, probe-role, refused with file and line when wrong', () => {
  const rows: [string, string | null][] = [
    [`${base}agent-listen = 127.0.0.1:8009\n[sql1]\nhost = h1\nprobe-port = 59001\n[sql2]\nhost = h2\nprobe-port = 10.0.0.5:59002\nprobe-role = mirror\n`, null],
    [`${base}agent-listen = localhost:8009\n[sql1]\nhost = h1\n`, 'serve.conf line 5: agent-listen: expected an IP address and a port'],
    [`${base}agent-listen = 127.0.0.1:8008\n[sql1]\nhost = h1\n`, 'serve.conf line 5: agent-listen: 127.0.0.1:8008 is also listen'],
    [`${base}[sql1]\nhost = h1\nprobe-port = 0\n`, 'serve.conf line 7: probe-port: expected a TCP port 1..65535, not 0'],
    [`${base}[sql1]\nhost = h1\nprobe-port = 8008\n`, 'serve.conf line 7: probe-port: 127.0.0.1:8008 is also listen'],
    [`${base}[sql1]\nhost = h1\nprobe-port = 59001\n[sql2]\nhost = h2\nprobe-port = 59001\n`, 'serve.conf line 10: probe-port: 127.0.0.1:59001 is also the probe port of sql1'],
    [`${base}[sql1]\nhost = h1\nprobe-port = 59001\nprobe-role = leader\n`, 'serve.conf line 8: probe-role: expected one of primary, secondary, mirror, online, not "leader"'],
    [`${base}[sql1]\nhost = h1\nprobe-role = primary\n`, 'serve.conf line 7: probe-role without a probe-port in [sql1]'],
    [`${base}probe-port = 59001\n[sql1]\nhost = h1\n`, 'serve.conf line 5: "probe-port" belongs in a [target]'],
    [`${base}[sql1]\nhost = h1\nagent-listen = 127.0.0.1:8009\n`, 'serve.conf line 7: "agent-listen" belongs before the first section'],
  ];
  for (const [text, want] of rows) {
    if (want === null) {
      const c = parseServeConfig(text, 'serve.conf', {});
      assert.deepEqual(agentListenOf(c), { host: '127.0.0.1', port: 8009 });
      assert.deepEqual(probePortsOf(c), [
        { target: 'sql1', host: '127.0.0.1', port: 59001, role: 'primary' },
        { target: 'sql2', host: '10.0.0.5', port: 59002, role: 'mirror' },
      ]);
      continue;
    }
    assert.throws(() => parseServeConfig(text, 'serve.conf', {}), (e: Error) => e.message.includes(want), want);
  }
});

// --- the README's examples of this section, as written ----------------------------------------------

test('README: the agent-check and probe-port examples pass haproxy -c and keepalived --config-test', () => {
  const heading = "The daemon's extras: groups, agent-check, probe ports, status page";
  const dir = mkdtempSync(join(tmpdir(), 'serve-readme-'));
  try {
    const ini = codeBlocks(heading, 'ini');
    assert.equal(ini.length, 1);
    const conf = parseServeConfig(`user = monitor\npassword = x\ndatabase = appdb\n${ini[0]}`, 'serve.conf', {});
    assert.deepEqual(conf.groups.map((g) => g.members), [['sql1', 'sql2']]);
    assert.deepEqual(probePortsOf(conf).map((p) => p.port), [59999, 59998]);
    const haproxy = [...codeBlocks('HAProxy agent-check', 'haproxy'), ...codeBlocks('TCP probe ports', 'haproxy')];
    assert.equal(haproxy.length, 2);
    for (const [i, block] of haproxy.entries()) {
      const f = join(dir, `haproxy-${i}.cfg`);
      writeFileSync(f, `defaults\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n${block}`);
      const r = spawnSync('haproxy', ['-c', '-f', f], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${block}\n${r.stdout}${r.stderr}`);
    }
    const keepalived = codeBlocks('TCP probe ports', 'keepalived');
    assert.equal(keepalived.length, 1);
    const f = join(dir, 'keepalived.conf');
    writeFileSync(f, keepalived[0]);
    const r = spawnSync('keepalived', ['--config-test', '--use-file', f], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
