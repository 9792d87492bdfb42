// The SQL Server Browser responder (SSRP over UDP): answers per MS-SQLR, read back by tedious's own
// parser, and an instance lookup end to end (mssql with instanceName — tedious always asks port 1434).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import sql from 'mssql';
// tedious's parser of Browser answers: an independent reading of what the responder sends
import { parseBrowserResponse } from 'tedious/lib/instance-lookup.js';
import { startBrowser, type Browser } from './browser.ts';
import { startSqlSim } from './server.ts';
import { FAKE_SCENARIO, FakeEngine } from './fake-engine.ts';

/** Sends one datagram and returns the answer, or null when none comes within `ms`. */
function ask(browser: Browser, request: Buffer, ms = 300): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, ms);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(request, browser.port, browser.host);
  });
}

const instanceRequest = (name: string) => Buffer.concat([Buffer.from([0x04]), Buffer.from(name, 'latin1'), Buffer.from([0])]);

describe('SQL Server Browser responder', { timeout: 30_000 }, () => {
  it('answers CLNT_UCAST_EX, CLNT_BCAST_EX, CLNT_UCAST_INST and CLNT_UCAST_DAC as MS-SQLR says', async () => {
    const browser = await startBrowser({
      port: 0,
      serverName: 'SQLA',
      instances: [{ name: 'SQLEXPRESS', port: 14330, dacPort: 14331 }, { name: 'OTHER', port: 14332, version: '15.0.2000.5' }],
    });
    try {
      for (const kind of [0x02, 0x03]) {
        const all = await ask(browser, Buffer.from([kind]));
        assert.ok(all);
        assert.equal(all[0], 0x05);
        assert.equal(all.readUInt16LE(1), all.length - 3);
        const text = all.subarray(3).toString('latin1');
        assert.equal(text, 'ServerName;SQLA;InstanceName;SQLEXPRESS;IsClustered;No;Version;16.0.1000.6;tcp;14330;;'
          + 'ServerName;SQLA;InstanceName;OTHER;IsClustered;No;Version;15.0.2000.5;tcp;14332;;');
        assert.equal(parseBrowserResponse(text, 'other'), 14332);
      }
      const one = await ask(browser, instanceRequest('sqlexpress'));
      assert.ok(one);
      assert.equal(parseBrowserResponse(one.subarray(3).toString('latin1'), 'SQLEXPRESS'), 14330);
      assert.equal(await ask(browser, instanceRequest('NOSUCH')), null, 'a real Browser stays silent for an unknown instance');
      const dac = await ask(browser, Buffer.concat([Buffer.from([0x0f, 0x01]), Buffer.from('SQLEXPRESS\0', 'latin1')]));
      assert.deepEqual(dac && [...dac], [0x05, 0x06, 0x00, 0x01, 14331 & 0xff, 14331 >> 8]);
      browser.silent = true;
      assert.equal(await ask(browser, Buffer.from([0x02])), null);
      assert.equal(browser.requests, 6);
    } finally {
      await browser.close();
    }
  });

  it('mssql with instanceName finds the port through the Browser on UDP 1434', async () => {
    // tedious always asks port 1434: a loopback address of this test's own keeps it clear of
    // other Browsers (check.test.ts uses 127.0.0.44)
    const host = '127.0.0.45';
    const sim = await startSqlSim({ scenario: FAKE_SCENARIO, engine: new FakeEngine(), host });
    let browser: Browser;
    try {
      browser = await startBrowser({ host, port: 1434, instances: [{ name: 'SQLEXPRESS', port: sim.port }] });
    } catch (err) {
      await sim.close();
      throw err;
    }
    try {
      const pool = new sql.ConnectionPool({
        server: host, user: 'probe', password: 'sim-Pass-1', database: 'appdb',
        connectionTimeout: 5000, requestTimeout: 3000,
        options: { instanceName: 'SQLEXPRESS', encrypt: false },
      });
      await pool.connect();
      try {
        const r = await pool.request().query('select databases');
        assert.equal(r.recordset.length, 3);
      } finally {
        await pool.close();
      }
      assert.ok(browser.requests >= 1);
      assert.ok(sim.stats.logins >= 1);

      const missing = new sql.ConnectionPool({
        server: host, user: 'probe', password: 'sim-Pass-1', connectionTimeout: 3000,
        options: { instanceName: 'NOSUCH', encrypt: false },
      });
      await assert.rejects(missing.connect(), (err: Error & { code?: string }) => err.code === 'EINSTLOOKUP');
    } finally {
      await browser.close();
      await sim.close();
    }
  });
});
