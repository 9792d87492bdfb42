// Bench row (f): the least any Node program can spend on this check's conversation with the
// server. It sends the client's own TDS messages, recorded from a run of (a) (bench/run.ts), one
// at a time, and waits for each complete answer (a packet with the end-of-message bit), parsing
// nothing. Packed exactly as the product and the hello world are.
// usage: tds-replay HOST PORT FILE   (FILE: the client's bytes of one check, as sent)
'use strict';
const { readFileSync } = require('node:fs');
const { connect } = require('node:net');

const [host, port, file] = process.argv.slice(2);
const sent = readFileSync(file);

/** The recording split into messages: packets up to and including one with the EOM bit. */
const messages = [];
for (let at = 0, start = 0; at + 8 <= sent.length; ) {
  const length = sent.readUInt16BE(at + 2);
  if (length < 8) throw new Error(`tds-replay: bad packet length ${length}`);
  const eom = sent[at + 1] & 1;
  at += length;
  if (eom) {
    messages.push(sent.subarray(start, at));
    start = at;
  }
}

const socket = connect({ host, port: Number(port) });
let next = 0;
let pending = Buffer.alloc(0);
const send = () => {
  if (next < messages.length) return socket.write(messages[next++]);
  socket.destroy();
  process.exit(0);
};
socket.on('connect', send);
const fail = (why) => {
  process.stderr.write(`tds-replay: ${why}\n`);
  process.exit(1);
};
socket.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 8 && pending.length >= pending.readUInt16BE(2)) {
    const length = pending.readUInt16BE(2);
    if (length < 8) fail(`bad packet length ${length} in an answer`);
    const eom = pending[1] & 1;
    pending = pending.subarray(length);
    if (eom) send();
  }
});
socket.on('close', () => fail(`the server closed the connection after ${next} of ${messages.length} requests`));
socket.on('error', (err) => fail(err.message));
setTimeout(() => fail('no answer within 10 s'), 10_000).unref();
