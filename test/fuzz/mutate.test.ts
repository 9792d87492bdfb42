// The fuzzer's mutator: it finds the fields of a real-shaped reply, is deterministic per seed,
// and each mutation kind changes what it claims to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRng, splitPackets, framePackets, walkTokens, mutateReply, MUTATIONS } from './mutate.ts';

/** COLMETADATA (int NOT NULL, nvarchar(128) NULL) + ROW (7, N'PRINCIPAL') + DONE, hand-encoded. */
function sampleReply(): { wire: Buffer; payload: Buffer } {
  const name = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'utf16le')]);
  const meta = Buffer.concat([
    Buffer.from([0x81, 0x02, 0x00]),
    Buffer.alloc(4), Buffer.from([0x00, 0x00]), Buffer.from([0x38]), name('database_id'),
    Buffer.alloc(4), Buffer.from([0x01, 0x00]), Buffer.from([0xe7, 0x00, 0x01, 0x09, 0x04, 0xd0, 0x00, 0x34]), name('role'),
  ]);
  const role = Buffer.from('PRINCIPAL', 'utf16le');
  const row = Buffer.concat([Buffer.from([0xd1]), Buffer.from([7, 0, 0, 0]), Buffer.from([role.length, 0]), role]);
  const done = Buffer.from([0xfd, 0x10, 0x00, 0xc1, 0x00, 1, 0, 0, 0, 0, 0, 0, 0]);
  const payload = Buffer.concat([meta, row, done]);
  // two packets, as a multi-packet reply would arrive
  const cut = 20;
  const wire = framePackets([
    { type: 4, status: 0, spid: 51, id: 1, window: 0, data: payload.subarray(0, cut) },
    { type: 4, status: 1, spid: 51, id: 2, window: 0, data: payload.subarray(cut) },
  ]);
  return { wire, payload };
}

test('packets split and frame back to the same bytes', () => {
  const { wire, payload } = sampleReply();
  const { packets, rest } = splitPackets(wire);
  assert.equal(packets.length, 2);
  assert.equal(rest.length, 0);
  assert.deepEqual(Buffer.concat(packets.map((p) => p.data)), payload);
  assert.deepEqual(framePackets(packets), wire);
});

test('the token walk finds every token, the column lengths, the row lengths and DONE', () => {
  const { payload } = sampleReply();
  const fields = walkTokens(payload);
  const tokens = fields.filter((f) => f.what === 'token').map((f) => payload[f.offset]);
  assert.deepEqual(tokens, [0x81, 0xd1, 0xfd]);
  const rowStart = fields.find((f) => f.what === 'token' && payload[f.offset] === 0xd1)!.offset;
  // the nvarchar length inside the row: 2 bytes after the 4-byte int
  assert.ok(fields.some((f) => f.what === 'length' && f.size === 2 && f.offset === rowStart + 5), 'row nvarchar length found');
  assert.ok(fields.some((f) => f.what === 'value' && f.size === 4 && f.offset === rowStart + 1), 'row int value found');
  assert.ok(fields.some((f) => f.what === 'count' && f.size === 8), 'DONE row count found');
});

test('the same seed gives the same mutation; different seeds differ', () => {
  const { wire } = sampleReply();
  const a = Array.from({ length: 50 }, (_, i) => mutateReply(wire, seededRng(1000 + i)));
  const b = Array.from({ length: 50 }, (_, i) => mutateReply(wire, seededRng(1000 + i)));
  assert.deepEqual(a.map((m) => [m.kind, m.detail, m.bytes.toString('hex')]), b.map((m) => [m.kind, m.detail, m.bytes.toString('hex')]));
  assert.ok(new Set(a.map((m) => m.bytes.toString('hex'))).size > 30, 'seeds give varied outputs');
  assert.ok(new Set(a.map((m) => m.kind)).size >= 8, 'seeds reach most mutation kinds');
});

test('every mutation kind changes the reply, except reframe, which keeps the payload', () => {
  const { wire, payload } = sampleReply();
  for (const kind of MUTATIONS) {
    let changed = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const m = mutateReply(wire, seededRng(seed), kind);
      if (kind === 'reframe') {
        const { packets, rest } = splitPackets(m.bytes);
        assert.equal(rest.length, 0, m.detail);
        assert.deepEqual(Buffer.concat(packets.map((p) => p.data)), payload, m.detail);
        assert.equal(packets.filter((p) => p.status & 1).length, 1, 'only the last packet has EOM');
      }
      if (!m.bytes.equals(wire)) changed++;
    }
    assert.ok(changed >= 15, `${kind} changed the reply in only ${changed} of 20 seeds`);
  }
});
