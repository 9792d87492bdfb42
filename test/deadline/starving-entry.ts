// The command line (src/main.ts) with one change, for the deadline tests only: in the packed
// binary, the answer to the facts query (the first bytes read after the driver wrote a TDS RPC
// packet) sends the main thread into a JavaScript loop that never yields, as tedious's packet
// writer did with a negotiated packet size of 4 (fuzz case 366). Under plain node (where
// build/warm-caches.mjs runs it to make the code caches) it is the product, unchanged. Built by
// build/bundle.mjs --entry and packed like the product (starving.ts): main-loader, the probe
// chunk and their caches are in play, and only the deadline's helpers can end such a run.
import { Socket } from 'node:net';
import { isSea } from 'node:sea';
import { writeSync } from 'node:fs';
import '../../src/main.ts';
import { INTERRUPTER_AT_MS } from '../../src/watchdog.ts';
import { LATE } from './late.ts';

if (isSea()) {
  let queried = false;
  const write = Socket.prototype.write;
  const emit = Socket.prototype.emit;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]): boolean {
    if (Buffer.isBuffer(chunk) && chunk[0] === 0x03) queried = true;
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data' && queried) {
      if (process.uptime() * 1000 > INTERRUPTER_AT_MS - 50) writeSync(2, `${LATE}\n`);
      for (;;) {
        // the starvation under test
      }
    }
    return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
  };
}
