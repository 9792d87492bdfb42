// Rows (g) and (h) of the bench: the floor's hello world with one of the deadline's helpers
// (src/watchdog.ts), packed the same way:
//   hello-deadline killer        the killer a check arms with its settings (a /bin/sh child), then
//                                disarmed at exit, as every check does;
//   hello-deadline interrupter   the interrupter's worker thread started at once, which a check
//                                does only when it runs past INTERRUPTER_AT_MS (what that saves).
import { armKiller, startInterrupter } from '../src/watchdog.ts';

const now = () => process.uptime() * 1000;
const killer = process.argv[2] === 'killer' ? armKiller(3000, now()) : undefined;
if (process.argv[2] === 'interrupter') startInterrupter(3000, now());
process.stdout.write('hello\n');
killer?.disarm();
process.exit(0);
