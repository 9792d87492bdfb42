// The pieces of name resolution and connecting, in the source: /etc/hosts as glibc's files source
// reads it, resolv.conf's search list and ndots as glibc's res_search uses them, the order Happy
// Eyeballs tries addresses in, dialing (first to connect wins, a refused address costs nothing),
// and SQL Server Browser answers. End to end, in the packed binaries: test/peers/dns.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { hostsAddresses, parseResolvConf, searchNames } from '../src/prober/resolve.ts';
import { interleave, dial, ATTEMPT_DELAY_MS } from '../src/prober/dial.ts';
import { parseBrowserResponse, portFromResponse } from '../src/prober/browser.ts';
import { browserReply, describeInstance } from './sqlsim/browser.ts';
import { freePort } from './peers/harness.ts';

const HOSTS = `# a comment
127.0.0.1\tlocalhost
::1 localhost ip6-localhost ip6-loopback
10.0.0.5   db1.corp.example db1 Reports   # the reports server
10.0.0.6 db2.corp.example
fd00::6 db2.corp.example db2
10.0.0.7 # db3 is commented out
127.1 shorthand
10.0.0.8 db1.corp.example
10.0.0.5 db1
`;

test('/etc/hosts: canonical names and aliases, any case, IPv4 and IPv6, every line in file order', () => {
  assert.deepEqual(hostsAddresses(HOSTS, 'localhost'), [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
  assert.deepEqual(hostsAddresses(HOSTS, 'REPORTS'), [{ address: '10.0.0.5', family: 4 }]);
  assert.deepEqual(hostsAddresses(HOSTS, 'db1'), [{ address: '10.0.0.5', family: 4 }], 'the same address once');
  assert.deepEqual(hostsAddresses(HOSTS, 'db1.corp.example').map((a) => a.address), ['10.0.0.5', '10.0.0.8']);
  assert.deepEqual(hostsAddresses(HOSTS, 'db2').map((a) => a.address), ['fd00::6']);
  assert.deepEqual(hostsAddresses(HOSTS, 'db2.corp.example').map((a) => a.address), ['10.0.0.6', 'fd00::6']);
  assert.deepEqual(hostsAddresses(HOSTS, 'db3'), [], 'a name after # is a comment');
  assert.deepEqual(hostsAddresses(HOSTS, 'shorthand'), [], 'only dotted-quad IPv4 addresses');
  assert.deepEqual(hostsAddresses(HOSTS, 'db1.corp'), [], 'no partial names');
  assert.deepEqual(hostsAddresses(HOSTS, 'localhost.'), [], 'a final dot is not in the file (glibc does not match it either)');
  assert.deepEqual(hostsAddresses('', 'localhost'), []);
});

test('resolv.conf: nameservers, search or domain (the last wins), ndots, the host\'s own domain by default', () => {
  assert.deepEqual(parseResolvConf('nameserver 10.0.0.53\nnameserver 10.0.1.53\nsearch a.example b.example.\noptions ndots:2 timeout:1\n', 'lb1'),
    { nameservers: ['10.0.0.53', '10.0.1.53'], search: ['a.example', 'b.example'], ndots: 2 });
  assert.deepEqual(parseResolvConf('search a.example\ndomain c.example\n', 'lb1').search, ['c.example']);
  assert.deepEqual(parseResolvConf('domain c.example\nsearch a.example b.example\n', 'lb1').search, ['a.example', 'b.example']);
  assert.deepEqual(parseResolvConf('nameserver 10.0.0.53\n', 'lb1.dc1.example').search, ['dc1.example']);
  assert.deepEqual(parseResolvConf('nameserver 10.0.0.53\n', 'lb1').search, []);
  assert.deepEqual(parseResolvConf('# search x.example\n; search y.example\noptions ndots:99\n', 'lb1'), { nameservers: [], search: [], ndots: 15 });
});

test('search names as res_search tries them: ndots decides whether the name as given comes first', () => {
  const conf = { search: ['corp.example', 'dc1.example'], ndots: 1 };
  assert.deepEqual(searchNames('db1', conf), ['db1.corp.example', 'db1.dc1.example', 'db1']);
  assert.deepEqual(searchNames('db1.corp', conf), ['db1.corp', 'db1.corp.corp.example', 'db1.corp.dc1.example']);
  assert.deepEqual(searchNames('db1.corp', { ...conf, ndots: 2 }), ['db1.corp.corp.example', 'db1.corp.dc1.example', 'db1.corp']);
  assert.deepEqual(searchNames('db1.corp.example.', conf), ['db1.corp.example'], 'a final dot: the name only');
  assert.deepEqual(searchNames('db1', { search: [], ndots: 1 }), ['db1']);
});

test('Happy Eyeballs order: IPv6 first, then the families take turns', () => {
  const a = (address: string) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 });
  assert.deepEqual(interleave(['10.0.0.1', '10.0.0.2', 'fd00::1', '10.0.0.3', 'fd00::2'].map(a)).map((x) => x.address),
    ['fd00::1', '10.0.0.1', 'fd00::2', '10.0.0.2', '10.0.0.3']);
  assert.deepEqual(interleave(['10.0.0.1'].map(a)).map((x) => x.address), ['10.0.0.1']);
});

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((sock) => sock.destroy());
    s.once('error', reject);
    s.listen(0, host, () => resolve(s));
  });
}

test('dial: a refused address moves on at once; the first to connect wins; all refused is one error naming each', async () => {
  const server = await listen('127.0.0.1');
  const port = (server.address() as { port: number }).port;
  try {
    // nothing listens on ::1 at that port (or IPv6 is off): refused or unreachable, at once
    const start = performance.now();
    const socket = await dial([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }], port, () => 10_000, { attemptDelayMs: 5000 });
    const ms = performance.now() - start;
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.ok(ms < 2500, `a refused first address cost ${ms} ms: the next attempt waited for the attempt delay`);
    assert.equal(ATTEMPT_DELAY_MS, 250, 'RFC 8305 section 5 recommends 250 ms');
    socket.destroy();

    const closed = await freePort('127.0.0.1');
    await assert.rejects(dial([{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }], closed, () => 5000),
      (err: Error) => /ECONNREFUSED 127\.0\.0\.1:\d+; .*ECONNREFUSED 127\.0\.0\.2/.test(err.message) && !(err as { timedOut?: boolean }).timedOut);
    await assert.rejects(dial([], port, () => 5000), /no address/);
    await assert.rejects(dial([{ address: '127.0.0.1', family: 4 }], port, () => 0), (err: Error) => (err as { timedOut?: boolean }).timedOut === true);
  } finally {
    server.close();
  }
});

test('SQL Server Browser answers: the instance\'s TCP port, any case; a clear reason when it is not there', () => {
  const instances = [{ name: 'SQLEXPRESS', port: 14330 }, { name: 'PROD', port: 14331 }];
  // CLNT_UCAST_EX ([MC-SQLR] 2.2.2), answered by the test tree's Browser as a real one answers it
  const reply = browserReply(Buffer.from([0x03]), instances, 'SQLA')!;
  const parsed = parseBrowserResponse(reply)!;
  assert.equal(portFromResponse(parsed, 'prod', 'sqla'), 14331);
  assert.equal(portFromResponse(parsed, 'SQLEXPRESS', 'sqla'), 14330);
  assert.match(String(portFromResponse(parsed, 'NOPE', 'sqla')), /no instance NOPE on sqla \(its SQL Server Browser lists SQLEXPRESS, PROD\)/);
  const noTcp = Buffer.from('ServerName;SQLA;InstanceName;PIPES;IsClustered;No;Version;16.0.1000.6;np;\\\\SQLA\\pipe\\sql\\query;;', 'latin1');
  const head = Buffer.from([0x05, noTcp.length & 0xff, noTcp.length >> 8]);
  assert.match(String(portFromResponse(parseBrowserResponse(Buffer.concat([head, noTcp]))!, 'pipes', 'sqla')), /does not listen on TCP/);
  const badPort = Buffer.from(describeInstance({ name: 'X', port: 0 }, 'SQLA'), 'latin1');
  assert.match(String(portFromResponse(parseBrowserResponse(Buffer.concat([Buffer.from([0x05, badPort.length, 0]), badPort]))!, 'X', 'sqla')), /gave instance X the TCP port "0"/);
  assert.equal(parseBrowserResponse(Buffer.from([0x05, 0x10, 0x00, 0x41])), null, 'a length that does not match');
  assert.equal(parseBrowserResponse(Buffer.from([0x04, 0x00, 0x00])), null, 'not an SVR_RESP');
});
