// sqlsim's CLI as a separate process: a mirrored pair, control commands over a Unix socket
// (and stdin), their effect seen by a client, the Browser, and a clean stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sql from 'mssql';
import { scenarioFile } from './catalog.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

interface Running {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function startCli(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    waiters.splice(0).forEach((w) => w());
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(pattern, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in:\n${lines.join('\n')}`)), ms);
        const check = () => {
          for (const line of lines) {
            const m = line.match(pattern);
            if (m) {
              clearTimeout(timer);
              return resolve(m);
            }
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** One command over the control socket → its answer line. */
function control(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    socket.on('error', reject);
    createInterface({ input: socket }).once('line', (line) => {
      socket.end();
      resolve(line);
    });
    socket.write(command + '\n');
  });
}

async function query(port: number, user: string, password: string, text: string): Promise<Record<string, unknown>[]> {
  const pool = new sql.ConnectionPool({
    server: '127.0.0.1', port, user, password, database: 'master', connectionTimeout: 3000, requestTimeout: 3000,
    options: { encrypt: true, trustServerCertificate: true },
  });
  await pool.connect();
  try {
    return (await pool.request().query(text)).recordset;
  } finally {
    await pool.close();
  }
}

const ROLE = "SELECT m.mirroring_role_desc AS role, d.state_desc AS state FROM sys.databases AS d JOIN sys.database_mirroring AS m ON m.database_id = d.database_id WHERE d.name = N'appdb'";

describe('sqlsim CLI', { timeout: 60_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlsim-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a mirrored pair with TLS and a Browser; control commands change what clients see; stop exits 0', async () => {
    const socket = join(dir, 'control.sock');
    const cli = startCli(['--scenario', 'principal', '--partner-scenario', 'mirror', '--encryption', 'on', '--tls-dir', join(dir, 'tls'),
      '--browser-port', '0', '--instance', 'SIM', '--control', socket]);
    try {
      const [, , portA] = await cli.waitFor(/^listening (127\.0\.0\.1):(\d+)$/);
      await cli.waitFor(/^browser 127\.0\.0\.1:\d+$/);
      const ports = cli.lines.filter((l) => l.startsWith('listening ')).map((l) => Number(l.split(':').at(-1)));
      assert.equal(ports.length, 2);
      assert.equal(ports[0], Number(portA));
      const sa = scenarioFile('principal').logins.find((l) => l.name === 'sa')!.password;

      assert.deepEqual(await query(ports[0], 'sa', sa, ROLE), [{ role: 'PRINCIPAL', state: 'ONLINE' }]);
      assert.deepEqual(await query(ports[1], 'sa', sa, ROLE), [{ role: 'MIRROR', state: 'RESTORING' }]);

      assert.equal(await control(socket, 'failover'), 'ok');
      assert.deepEqual(await query(ports[0], 'sa', sa, ROLE), [{ role: 'MIRROR', state: 'RESTORING' }]);
      assert.deepEqual(await query(ports[1], 'sa', sa, ROLE), [{ role: 'PRINCIPAL', state: 'ONLINE' }]);

      assert.equal(await control(socket, 'state appdb SUSPECT b'), 'ok');
      assert.deepEqual(await query(ports[1], 'sa', sa, ROLE), [{ role: 'PRINCIPAL', state: 'SUSPECT' }]);
      assert.equal(await control(socket, '{"cmd":"load","file":"principal","server":"b"}'), 'ok');
      assert.deepEqual(await query(ports[1], 'sa', sa, ROLE), [{ role: 'PRINCIPAL', state: 'ONLINE' }]);

      assert.equal(await control(socket, 'fault login-failure a'), 'ok');
      await assert.rejects(query(ports[0], 'sa', sa, ROLE), /Login failed/);
      assert.deepEqual(await query(ports[1], 'sa', sa, ROLE), [{ role: 'PRINCIPAL', state: 'ONLINE' }]);
      assert.equal(await control(socket, 'fault none'), 'ok');
      assert.equal((await query(ports[0], 'sa', sa, ROLE)).length, 1);

      const status = JSON.parse((await control(socket, 'status')).slice(3)) as { logins: number; tlsHandshakes: number; loginFailures: number }[];
      assert.equal(status.length, 2);
      assert.equal(status[0].loginFailures, 1);
      assert.ok(status[0].tlsHandshakes >= status[0].logins && status[0].logins >= 3);

      assert.match(await control(socket, 'load principal'), /^error load: which server, a or b\?/);
      assert.match(await control(socket, 'fault no-such-fault'), /^error unknown fault/);
      assert.match(await control(socket, 'state nodb OFFLINE'), /^error .*no database 'nodb'/);
      assert.match(await control(socket, 'dance'), /^error unknown command 'dance'/);

      assert.equal(await control(socket, 'stop'), 'ok stopping');
      assert.equal(await cli.exited, 0);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('with --control stdin: answers each line in order, and stops when its input ends', async () => {
    const cli = startCli(['--scenario', 'standalone', '--control', 'stdin']);
    try {
      await cli.waitFor(/^listening /);
      cli.child.stdin.write('fault delay {"ms":50}\nrole PRIMARY\nstatus\nfault none\n');
      await cli.waitFor(/^ok \[/);
      assert.deepEqual(cli.lines.slice(1, 3), ['ok', 'ok']);
      assert.match(cli.lines[3], /^ok \[\{"port":\d+,"server":"[^"]+","fault":"delay"/);
      cli.child.stdin.end();
      assert.equal(await cli.exited, 0);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('SIGTERM stops it; bad options exit 2 with a message', async () => {
    const cli = startCli(['--scenario', 'principal']);
    await cli.waitFor(/^listening /);
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);

    const bad = startCli(['--scenario', 'principal', '--encryption', 'sometimes']);
    let err = '';
    bad.child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    assert.equal(await bad.exited, 2);
    assert.match(err, /--encryption must be one of/);
  });
});
