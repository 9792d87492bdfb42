// A file system that stops answering, as a hard NFS mount whose server has gone: a FUSE server in
// this process (kernel protocol 7, spoken over /dev/fuse, no libfuse) that answers the mount and
// the lookups it is told to, and holds the call under test, so that the process making it waits
// in the kernel. A hard NFS mount waits killably (SIGKILL ends the wait); a FUSE request that its
// server has read waits until answered, even for SIGKILL, so the server answers a held call (EINTR)
// only once its caller has SIGKILL pending: the same behaviour. It is mounted only inside a private
// mount namespace made for one command (unshare -m), so that nothing else on the machine can walk
// into it, and it goes away with that command.
import { openSync, closeSync, read, readFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';

const OP = { LOOKUP: 1, FORGET: 2, GETATTR: 3, OPEN: 14, INIT: 26, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42 } as const;
const NO_REPLY: number[] = [OP.FORGET, OP.INTERRUPT, OP.BATCH_FORGET];
const ENOENT = 2;
const EINTR = 4;
const ENOSYS = 38;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** What the mount holds: names in its root, and which call on which name never gets an answer. */
export interface HungMount {
  /** regular files in the root (empty) */
  files: string[];
  /** the call never answered: a LOOKUP of this name (a stat of it), or an OPEN of that file */
  hang: { lookup: string } | { open: string };
}

export interface HungRun {
  status: number | null;
  signal: string | null;
  ms: number;
  stdout: string;
  stderr: string;
  /** the calls that were left unanswered (the test checks that the hang was met) */
  held: string[];
}

function attr(ino: number, mode: number): Buffer {
  const a = Buffer.alloc(88);
  a.writeBigUInt64LE(BigInt(ino), 0);
  a.writeUInt32LE(mode, 60);
  a.writeUInt32LE(mode & S_IFDIR ? 2 : 1, 64); // nlink
  a.writeUInt32LE(4096, 80); // blksize
  return a;
}

/**
 * Runs `argv` with the mount at `mountpoint` (an empty directory), after `setup` (shell commands
 * run in the namespace once mounted, e.g. a bind mount over /etc/hosts). Resolves when it ends.
 */
export function runWithHungMount(mount: HungMount, mountpoint: string, setup: string, argv: string[], env: NodeJS.ProcessEnv, limitMs = 60_000): Promise<HungRun> {
  const fd = openSync('/dev/fuse', 'r+');
  const held: string[] = [];
  const names = new Map<string, number>(mount.files.map((f, i) => [f, i + 2])); // node ids: 1 is the root
  const byNode = new Map([...names].map(([n, id]) => [id, n]));
  const reply = (unique: bigint, error: number, body = Buffer.alloc(0)) => {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(16 + body.length, 0);
    head.writeInt32LE(-error, 4);
    head.writeBigUInt64LE(unique, 8);
    try {
      writeSync(fd, Buffer.concat([head, body]));
    } catch {
      // the request was aborted (its caller was killed)
    }
  };
  // held calls: answered once their caller (a thread id) has SIGKILL pending, or is gone
  const holding = new Map<bigint, number>();
  const killPending = (tid: number) => {
    try {
      const status = readFileSync(`/proc/${tid}/status`, 'utf8');
      // a fatal signal shows as SIGKILL (bit 8) in the pending masks of every thread
      return [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => (BigInt(`0x${m[1]}`) & 0x100n) !== 0n);
    } catch {
      return true; // gone
    }
  };
  const watch = setInterval(() => {
    for (const [unique, tid] of holding) if (killPending(tid)) { holding.delete(unique); reply(unique, EINTR); }
  }, 5);
  const hold = (unique: bigint, tid: number, what: string) => {
    held.push(what);
    holding.set(unique, tid);
  };
  const handle = (req: Buffer) => {
    const opcode = req.readUInt32LE(4);
    const unique = req.readBigUInt64LE(8);
    const node = Number(req.readBigUInt64LE(16));
    const tid = req.readUInt32LE(32);
    const body = req.subarray(40);
    if (NO_REPLY.includes(opcode)) return;
    switch (opcode) {
      case OP.INIT: {
        const out = Buffer.alloc(64);
        out.writeUInt32LE(7, 0);
        out.writeUInt32LE(31, 4);
        out.writeUInt32LE(body.readUInt32LE(8), 8); // max_readahead as asked
        out.writeUInt32LE(4096, 16); // max_write
        out.writeUInt32LE(1, 20); // time_gran
        return reply(unique, 0, out);
      }
      case OP.GETATTR: {
        const out = Buffer.alloc(16);
        out.writeBigUInt64LE(3600n, 0); // attributes valid for an hour
        return reply(unique, 0, Buffer.concat([out, attr(node, node === 1 ? S_IFDIR | 0o755 : S_IFREG | 0o644)]));
      }
      case OP.LOOKUP: {
        const name = body.toString('utf8', 0, body.indexOf(0));
        if ('lookup' in mount.hang && mount.hang.lookup === name) return hold(unique, tid, `lookup ${name}`);
        const id = names.get(name);
        if (node !== 1 || id === undefined) return reply(unique, ENOENT);
        const out = Buffer.alloc(40);
        out.writeBigUInt64LE(BigInt(id), 0);
        out.writeBigUInt64LE(3600n, 16);
        out.writeBigUInt64LE(3600n, 24);
        return reply(unique, 0, Buffer.concat([out, attr(id, S_IFREG | 0o644)]));
      }
      case OP.OPEN:
        if ('open' in mount.hang && byNode.get(node) === mount.hang.open) return hold(unique, tid, `open ${mount.hang.open}`);
        return reply(unique, ENOSYS);
      default:
        return reply(unique, ENOSYS);
    }
  };
  // One read at a time: each read returns one request. It ends (ENODEV) when the namespace, and
  // with it the mount, is gone.
  const buf = Buffer.alloc(1 << 17);
  let serving = true;
  const serve = (): void => void read(fd, buf, 0, buf.length, null, (err, n) => {
    // EPERM: not mounted yet (the shell mounts it in a moment)
    if (err?.code === 'EPERM' && serving) return void setTimeout(serve, 5);
    if (err || n === 0 || !serving) {
      serving = false;
      try { closeSync(fd); } catch { /* closed */ }
      return;
    }
    handle(Buffer.from(buf.subarray(0, n)));
    serve();
  });
  serve();

  const script = 'mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 mrc-hung "$MNT" && exec 3>&- && ' +
    `${setup ? `${setup} && ` : ''}exec "$@"`;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', ...argv],
      { env: { ...env, MNT: mountpoint }, stdio: ['ignore', 'pipe', 'pipe', fd] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(limit);
      clearInterval(watch);
      serving = false;
      resolve({ status, signal, ms: performance.now() - start, stdout, stderr, held });
    });
  });
}
