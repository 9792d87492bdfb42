// The daemon's CPU per poll: `mssql-role-check serve` against one simulator process, its own CPU
// time (/proc/PID/stat, user + system) over a window divided by the polls it made in that window
// (the poll duration histogram's counts in /metrics, read at the start and the end only).
//   node bench/serve-poll-cpu.ts [--targets 2] [--interval 0.1] [--seconds 20] [--groups] [--bin dist/mssql-role-check-linux-x64]
// --groups puts the targets in groups of two (the group rule judged on every answer).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SimProcess } from '../test/peers/sim.ts';
import { freePort } from '../test/peers/harness.ts';
import { startServe, configFor, waitForPolls } from '../test/serve/daemon.ts';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '2' }, interval: { type: 'string', default: '0.1' }, seconds: { type: 'string', default: '20' },
    groups: { type: 'boolean', default: false }, bin: { type: 'string' },
  },
});
const n = Number(values.targets);
const seconds = Number(values.seconds);
const port = await freePort();
const sim = await SimProcess.start({ scenario: 'principal', host: '127.0.0.1', port, name: 'bench-sim' });
const names = Array.from({ length: n }, (_, i) => `t${i + 1}`);
let config = configFor(Object.fromEntries(names.map((t) => [t, { port }])), `interval = ${values.interval}\ntimeout = 2\n`);
if (values.groups) {
  for (let i = 0; i + 1 < n; i += 2) config += `\n[group g${i / 2 + 1}]\nmembers = ${names[i]}, ${names[i + 1]}\n`;
}
const d = await startServe({ config, bin: values.bin });
try {
  await waitForPolls(d, names, 30_000);
  await new Promise((r) => setTimeout(r, 2000)); // past start-up and the first logins
  const cpuMs = () => {
    const f = readFileSync(`/proc/${d.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 }; // utime, stime: clock ticks of 10 ms
  };
  const polls = async () => {
    const text = (await d.get('/metrics')).text;
    return [...text.matchAll(/^mssql_role_check_poll_duration_seconds_count\{[^}]*\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
  };
  const p0 = await polls();
  const c0 = cpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuMs();
  const wall = performance.now() - t0;
  const p1 = await polls();
  const made = p1 - p0;
  const user = c1.user - c0.user;
  const cpu = user + c1.system - c0.system;
  console.log(`${n} target(s)${values.groups ? ' in groups of 2' : ''}, interval ${values.interval} s, ${(wall / 1000).toFixed(1)} s: ` +
    `${made} polls, daemon CPU ${cpu} ms (user ${user}): ${(cpu / made).toFixed(3)} ms per poll (${((cpu / wall) * 100).toFixed(1)} % of a core), RSS ${(d.rssKb() / 1024).toFixed(0)} MB`);
} finally {
  await d.stop();
  await sim.stop();
}
