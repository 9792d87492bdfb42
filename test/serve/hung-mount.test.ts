// The drain file on a mount that stops answering (test/deadline/hung-mount.ts: a FUSE server that
// never answers the stat): the daemon must not stall. It keeps polling and answering, the target
// reads as drained-for-safety (404: the file cannot be checked), other targets are unaffected, and
// SIGTERM still ends it within 1 s.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSqlSim } from '../sqlsim/server.ts';
import { scenarioFile } from '../sqlsim/scenarios.ts';
import { runWithHungMount } from '../deadline/hung-mount.ts';
import { freePort } from '../peers/harness.ts';
import { NODE } from '../helpers/paths.ts';
import { SOURCE, configFor, request, MONITOR_PASSWORD } from './daemon.ts';

const sim = await startSqlSim({ scenario: scenarioFile('principal'), host: '127.0.0.1' });
after(() => sim.close());
const fuse = existsSync('/dev/fuse');

if (!fuse) console.log('# SKIPPED LOUDLY: the hung-mount test needs /dev/fuse');
test('a hung stat of the drain file stalls nothing: the daemon answers, polls, and stops on SIGTERM within 1 s', { timeout: 60_000, skip: fuse ? false : 'SKIPPED LOUDLY: no /dev/fuse' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-hung-'));
  const mnt = join(dir, 'mnt');
  const port = await freePort();
  const config = join(dir, 'serve.conf');
  writeFileSync(config, configFor({ hung: { port: sim.port, extra: `maintenance-file = ${mnt}/drain\n` }, fine: { port: sim.port } }, 'interval = 0.2\ntimeout = 2\n')
    .replace('listen = 127.0.0.1:0', `listen = 127.0.0.1:${port}`), { mode: 0o600 });
  await import('node:fs').then((fs) => fs.mkdirSync(mnt));
  const running = runWithHungMount({ files: [], hang: { lookup: 'drain' } }, mnt, '', [NODE, SOURCE, 'serve', '--config', config], { PATH: '/usr/bin:/bin' }, 40_000);
  try {
    // wait for the listener
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = await request(port, '/health').then(() => true, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(up, 'the daemon listens');
    await new Promise((r) => setTimeout(r, 2500));
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const fine = await request(port, '/fine/primary');
      assert.equal(fine.status, 200, `the other target: ${fine.text.slice(0, 200)}`);
      latencies.push(fine.ms);
      const hung = await request(port, '/hung/primary');
      assert.equal(hung.status, 404, hung.text.slice(0, 300));
      assert.match(hung.json!.reason as string, /maintenance file .*drain cannot be checked \(stat has not answered for \d+\.\d s\)/);
      assert.ok((hung.json!.ageSeconds as number) < 1.5, `the hung target is still polled: facts ${hung.json!.ageSeconds} s old`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await request(port, '/health')).status, 200);
    console.log(`hung drain file: the other target answered 200 in at most ${Math.max(...latencies).toFixed(1)} ms; the hung one 404`);
  } finally {
    // the daemon, found by its config path (its own pid: unshare and sh exec into it)
    const pid = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(config); } catch { return false; }
    });
    const start = performance.now();
    if (pid) process.kill(Number(pid), 'SIGTERM');
    const r = await running;
    const ms = performance.now() - start;
    console.log(`SIGTERM with a stat held in the kernel: ${r.signal ?? `exit ${r.status}`} after ${ms.toFixed(0)} ms (held: ${r.held.join(', ')}; pid ${pid})`);
    console.log(r.stderr.split('\n').slice(-8).join('\n'));
    rmSync(dir, { recursive: true, force: true });
    assert.ok(pid, 'the daemon was found');
    assert.ok(r.held.length > 0, 'the stat was held');
    assert.ok(ms < 1500, `gone ${ms.toFixed(0)} ms after SIGTERM`);
    assert.ok(r.status === 0 || r.signal === 'SIGKILL', `exit 0, or its own SIGKILL when the held stat keeps process.exit waiting: ${r.status} ${r.signal}`);
    assert.ok(!r.stderr.includes(MONITOR_PASSWORD));
  }
});
