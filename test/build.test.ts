// The build pipeline: both binaries exist, embed the pinned Node, run without Node installed,
// verify against SHA256SUMS, and were made without touching the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, openSync, readSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, BIN_X64, BIN_ARM64 } from './helpers/paths.ts';

const pinned = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(ROOT, 'build/toolchain.env'), 'utf8'))![1];
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(20);
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  assert.equal(head.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF file`);
  return head.readUInt16LE(18);
}

test('x64 binary runs --version with an empty environment and no node on PATH', () => {
  assert.equal(elfMachine(BIN_X64), 62, 'e_machine should be x86-64 (62)');
  const r = spawnSync('/usr/bin/env', ['-i', BIN_X64, '--version'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `mssql-role-check ${version} (node ${pinned})`);
  const withoutNode = spawnSync('/usr/bin/env', ['-i', 'PATH=/nonexistent', '/bin/sh', '-c', 'command -v node || echo none'], { encoding: 'utf8' });
  assert.equal(withoutNode.stdout.trim(), 'none', 'the empty environment must not find a node');
});

test('arm64 binary is an aarch64 ELF and runs --version under qemu-aarch64-static', () => {
  assert.equal(elfMachine(BIN_ARM64), 183, 'e_machine should be AArch64 (183)');
  const r = spawnSync('qemu-aarch64-static', [BIN_ARM64, '--version'], { encoding: 'utf8', timeout: 120_000, env: {} });
  assert.equal(r.error, undefined, `qemu-aarch64-static could not run: ${r.error}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `mssql-role-check ${version} (node ${pinned})`);
});

test('SHA256SUMS verifies with sha256sum -c and lists both binaries', () => {
  const sums = readFileSync(join(ROOT, 'dist/SHA256SUMS'), 'utf8');
  assert.match(sums, /^[0-9a-f]{64} {2}mssql-role-check-linux-x64$/m);
  assert.match(sums, /^[0-9a-f]{64} {2}mssql-role-check-linux-arm64$/m);
  const out = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(ROOT, 'dist'), encoding: 'utf8' });
  assert.match(out, /mssql-role-check-linux-x64: OK/);
  assert.match(out, /mssql-role-check-linux-arm64: OK/);
});

test('a second make with nothing changed has no work to do', () => {
  const r = spawnSync('make', ['-q', 'all'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `make -q all says something is out of date:\n${r.stdout}${r.stderr}`);
});

test('packing works with no network at all (pkg finds Node in the project cache)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pack-offline-'));
  try {
    // A new network namespace has only a downed loopback: any download attempt fails.
    const probe = spawnSync('unshare', ['--net', 'true']);
    assert.equal(probe.status, 0, 'unshare --net must work here (root, as in CI)');
    const r = spawnSync('unshare', ['--net', join(ROOT, 'build/pack.sh'), join(ROOT, 'dist/mssql-role-check.cjs'), join(dir, 'offline')],
      { encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `offline pack failed:\n${r.stdout}${r.stderr}`);
    const out = spawnSync(join(dir, 'offline-linux-x64'), ['--version'], { encoding: 'utf8' });
    assert.equal(out.stdout.trim(), `mssql-role-check ${version} (node ${pinned})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
