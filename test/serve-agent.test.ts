// The HAProxy agent-check protocol (src/serve/agent.ts): the request line parsed, the reply line
// made from an answer, as tables; then the listener on loopback with the clients HAProxy and worse
// can be: a line in pieces, CR LF, no line at all, too long a line, a control character, a flood.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { agentReply, agentServer, oneLine, parseAgentLine } from '../src/serve/agent.ts';
import type { AgentRequest, AgentResolution } from '../src/serve/agent.ts';
import { answer, defaultAsk } from '../src/serve/state.ts';
import type { Answer } from '../src/serve/state.ts';
import { NOW, MAX_AGE_MS, mirror, principal, target } from './helpers/serve-targets.ts';

test('agent: request lines', () => {
  const rows: [string, string | { target: string; role: string; params: [string, string][] }][] = [
    ['sql1 primary', { target: 'sql1', role: 'primary', params: [] }],
    ['  sql1\tprimary  ', { target: 'sql1', role: 'primary', params: [] }],
    ['sql1 secondary max-lag=30', { target: 'sql1', role: 'secondary', params: [['max-lag', '30']] }],
    ['sql1 primary database=a database=b mirroring-state=SYNCHRONIZED', { target: 'sql1', role: 'primary', params: [['database', 'a'], ['database', 'b'], ['mirroring-state', 'SYNCHRONIZED']] }],
    ['sql1 primary database=my%20db', { target: 'sql1', role: 'primary', params: [['database', 'my db']] }],
    ['sql1 primary database=', { target: 'sql1', role: 'primary', params: [['database', '']] }],
    ['', 'empty request line'],
    ['sql1', 'no role after target "sql1"'],
    ['sql1 primary max-lag', 'option "max-lag" is not name=value'],
    ['sql1 primary =30', 'option "=30" is not name=value'],
    ['sql1 primary database=%E0%A4%A', 'bad %-encoding'],
  ];
  for (const [line, want] of rows) {
    const got = parseAgentLine(line);
    if (typeof want === 'string') {
      assert.ok('error' in got && got.error.includes(want), `${JSON.stringify(line)}: ${JSON.stringify(got)}`);
    } else {
      assert.ok(!('error' in got), `${JSON.stringify(line)}: ${JSON.stringify(got)}`);
      const r = got as AgentRequest;
      assert.deepEqual({ target: r.target, role: r.role, params: [...r.params] }, want, JSON.stringify(line));
    }
  }
});

const asked = (spec: Parameters<typeof target>[1]): Answer => {
  const t = target('sql1', spec);
  return answer(t, defaultAsk(t.settings), NOW, MAX_AGE_MS);
};
const undrainedOf = (spec: Parameters<typeof target>[1]): Answer => asked({ ...spec, maintenance: false });

test('agent: reply lines, the whole state in one', () => {
  const rows: [string, AgentResolution, RegExp][] = [
    ['a pass', { answer: asked({ facts: principal() }) }, /^up ready 100%$/],
    ['a pass with the target\'s weight', { answer: asked({ facts: principal() }), weight: 40 }, /^up ready 40%$/],
    ['a pass with weight 0 (HAProxy shows DRAIN)', { answer: asked({ facts: principal() }), weight: 0 }, /^up ready 0%$/],
    ['the mirror', { answer: asked({ facts: mirror() }) }, /^down #database "appdb": mirroring role is MIRROR, not PRINCIPAL$/],
    ['no facts', { answer: asked({ none: 'poll-failed' }) }, /^down #network error: connect ECONNREFUSED 127\.0\.0\.1:1433$/],
    ['facts too old', { answer: asked({ none: 'stale' }) }, /^down #facts are 3\.0 s old \(max-age 3 s\)$/],
    ['drained, and it would pass', { answer: asked({ facts: principal(), maintenance: true }), undrained: undrainedOf({ facts: principal() }) }, /^up drain #maintenance \(\/run\/mssql-role-check\/drain exists\)$/],
    ['drained, and it would fail', { answer: asked({ facts: mirror(), maintenance: true }), undrained: undrainedOf({ facts: mirror() }) }, /^down drain #maintenance \(.*\); database "appdb": mirroring role is MIRROR/],
    ['drained, nothing else known', { answer: asked({ facts: principal(), maintenance: true }) }, /^down drain #maintenance/],
    ['unknown target', { error: 'unknown target "sql9"' }, /^down #unknown target "sql9"$/],
  ];
  for (const [name, r, want] of rows) {
    const line = agentReply(r);
    assert.match(line, want, name);
    assert.ok(/^[\x20-\x7e]*$/.test(line), `${name}: one line of printable ASCII`);
    assert.ok(line.length <= 220, `${name}: bounded`);
  }
  // a reason with newlines, non-ASCII and great length still makes one bounded line
  const long = agentReply({ error: `a\r\nb\u00e9\u0000${'x'.repeat(1000)}` });
  assert.match(long, /^down #a\?\?b\?\?x+\.\.\.$/);
  assert.equal(long.length, '#'.length + 'down '.length + 200);
  assert.equal(oneLine('ok'), 'ok');
});

// --- the listener ---------------------------------------------------------------------------------

const servers: Server[] = [];
after(() => { for (const s of servers) s.close(); });

async function listen(resolve: (r: AgentRequest) => AgentResolution, limits = { maxLineBytes: 128, readTimeoutMs: 300, maxConnections: 8 }): Promise<number> {
  const s = agentServer(resolve, limits);
  servers.push(s);
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return (s.address() as AddressInfo).port;
}

/** Send pieces (with pauses between them), read until the server closes. */
async function exchange(port: number, pieces: (string | Buffer)[], opts: { pauseMs?: number; endAfter?: boolean } = {}): Promise<{ reply: string; ms: number; closed: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { reply += d; });
    sock.on('error', (e) => (reply === '' ? reject(e) : undefined));
    sock.on('close', () => resolve({ reply, ms: performance.now() - t0, closed: true }));
    sock.on('connect', async () => {
      for (const p of pieces) {
        sock.write(p);
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
      if (opts.endAfter) sock.end();
    });
  });
}

const judged = (r: AgentRequest): AgentResolution => {
  if (r.target !== 'sql1') return { error: `unknown target ${JSON.stringify(r.target)}` };
  if (r.role !== 'primary') return { error: `unknown role ${JSON.stringify(r.role)}` };
  return { answer: asked({ facts: r.params.get('database') === 'mirrored' ? mirror() : principal() }) };
};

test('agent listener: one line in, one line out, then closed', async () => {
  const port = await listen(judged);
  const rows: [string, (string | Buffer)[], { pauseMs?: number; endAfter?: boolean }, RegExp][] = [
    ['as HAProxy sends it', ['sql1 primary\n'], {}, /^up ready 100%\n$/],
    ['CR LF', ['sql1 primary\r\n'], {}, /^up ready 100%\n$/],
    ['in pieces', ['sq', 'l1 pri', 'mary\n'], { pauseMs: 20 }, /^up ready 100%\n$/],
    ['an option', ['sql1 primary database=mirrored\n'], {}, /^down #database "appdb": mirroring role is MIRROR/],
    ['an unknown target', ['sql9 primary\n'], {}, /^down #unknown target "sql9"\n$/],
    ['an unknown role', ['sql1 leader\n'], {}, /^down #unknown role "leader"\n$/],
    ['a line without its end, then half-closed', ['sql1 primary'], { endAfter: true }, /^up ready 100%\n$/],
    ['nothing, then half-closed', [], { endAfter: true }, /^down #empty request/],
    ['nothing at all: the read timeout', [], {}, /^down #no request line within 300 ms/],
    ['a line too long', ['x'.repeat(200)], {}, /^down #request line longer than 128 bytes\n$/],
    ['a line too long, with its end', ['x'.repeat(130) + '\n'], {}, /^down #request line longer than 128 bytes\n$/],
    ['a control character', ['sql1 prim\x01ary\n'], {}, /^down #the request line has a control character/],
    ['not UTF-8', [Buffer.from([0x73, 0x71, 0xff, 0x0a])], {}, /^down #the request line has a control character or is not UTF-8/],
  ];
  for (const [name, pieces, opts, want] of rows) {
    const r = await exchange(port, pieces, opts);
    assert.match(r.reply, want, name);
    assert.equal(r.reply.split('\n').length, 2, `${name}: exactly one line`);
    assert.ok(r.closed, `${name}: closed`);
    assert.ok(r.ms < 1500, `${name}: closed within the read timeout (${r.ms.toFixed(0)} ms)`);
  }
});

test('agent listener: a resolver that throws answers down, never up', async () => {
  const port = await listen(() => { throw new Error('boom'); });
  assert.equal((await exchange(port, ['sql1 primary\n'])).reply, 'down #internal error: boom\n');
});

test('agent listener: connections beyond maxConnections are closed at once; the others are answered', async () => {
  const port = await listen(judged, { maxLineBytes: 128, readTimeoutMs: 1000, maxConnections: 3 });
  const idle = [0, 1, 2].map(() => exchange(port, []));
  await new Promise((r) => setTimeout(r, 100));
  const extra = await exchange(port, ['sql1 primary\n']).catch((e: NodeJS.ErrnoException) => ({ reply: `error ${e.code}`, ms: 0, closed: true }));
  assert.ok(extra.reply === '' || extra.reply.startsWith('error'), `the 4th connection is refused, not answered: ${JSON.stringify(extra.reply)}`);
  const first = await Promise.all(idle);
  assert.ok(first.every((r) => r.reply.startsWith('down #no request line')));
  // and once they are gone, a check is answered again
  assert.equal((await exchange(port, ['sql1 primary\n'])).reply, 'up ready 100%\n');
});
