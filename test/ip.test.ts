// ipFamily agrees with Node's own net.isIP on every case of the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { ipFamily } from '../src/ip.ts';

const CASES = [
  '127.0.0.1', '0.0.0.0', '255.255.255.255', '10.0.0.11', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4',
  '1.2.3.04', ' 1.2.3.4', '1.2.3.4 ', '1..2.3', '::1', '::', '2001:db8::1', 'fe80::1%eth0', 'fe80::1%',
  '::ffff:192.0.2.1', '2001:db8:0:0:0:0:2:1', '2001:db8::2::1', '12345::1', 'g::1', ':1', '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9', 'localhost', 'sql-a.example.com', '[::1]', 'a:b', '', '1.2.3.4:1433', 'fe80::1%eth0%1',
];

test('ipFamily matches net.isIP', () => {
  for (const host of CASES) assert.equal(ipFamily(host), isIP(host), JSON.stringify(host));
});
