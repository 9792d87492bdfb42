// `mssql-role-check serve`: the command line of the daemon. Loaded (with prom-client) only for
// serve: build/bundle.mjs makes this a chunk of its own, so the one-shot check never reads it.
//   serve [--config FILE] [-v]          run until SIGTERM/SIGINT (exit 0); SIGHUP reloads
//   serve [--config FILE] --check-config   validate, print one line, exit 0 or 1
import { writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { DEFAULT_CONFIG, readServeConfig, SERVE_OPTIONS, NOT_FOR_SERVE } from './config.ts';
import { Daemon } from './daemon.ts';
import { pollerOfContext } from './poller.ts';
import { UsageError } from '../errors.ts';
import { target as serverName } from '../output.ts';

export { Daemon } from './daemon.ts';

/** SIGTERM/SIGINT: the process is gone by then, whatever still holds it. */
export const STOP_WITHIN_MS = 900;

function line(text: string): void {
  try {
    writeSync(2, text.replace(/[\r\n]+/g, ' ') + '\n');
  } catch {
    // stderr closed: nothing to tell
  }
}

export function serveUsage(): string {
  const names = SERVE_OPTIONS.map((o) => `  ${o.name} = ${o.arg}${o.default ? ` (default ${o.default})` : ''}\n      ${o.help}`).join('\n');
  const refused = Object.entries(NOT_FOR_SERVE).map(([n, why]) => `  ${n}: ${why}`).join('\n');
  return `usage: mssql-role-check serve [--config FILE] [-v]
       mssql-role-check serve [--config FILE] --check-config

Polls every target of FILE (default ${DEFAULT_CONFIG}) over one persistent connection each and
answers HTTP checks from memory: GET|HEAD|OPTIONS /TARGET/ROLE[?max-lag=&mirroring-state=&database=]
gives 200 (pass), 503 (fail, or facts unknown or older than max-age), 404 (drained), 400 (bad
request); GET /TARGET (every role); GET /health (200 while every poll loop has completed a poll
within max-age + timeout); GET /metrics (Prometheus); GET / (the status page), /targets (its
data), /group/NAME/primary; HAProxy's agent-check on agent-listen. SIGHUP reloads FILE (a bad one
is refused and the running config stays); SIGTERM and SIGINT stop (exit 0). Serve reads no MSSQL_*
variable.

  -c, --config FILE   the serve config (mode 0600, or 0640 root:GROUP of the daemon's user)
  --check-config      validate FILE, print one line, exit 0 (valid) or 1
  -v, --verbose       one line per poll on stderr
  -h, --help          this help

FILE: the one-shot's "name = value" lines; names before the first section are defaults for every
target, [NAME] starts a target, [group NAME] a group. The one-shot's settings, and these:
${names}
Not accepted in FILE:
${refused}
`;
}

interface Args { config: string; verbose: boolean; checkConfig: boolean; help: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { config: DEFAULT_CONFIG, verbose: false, checkConfig: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i];
    if (t === '-v' || t === '--verbose') a.verbose = true;
    else if (t === '--check-config') a.checkConfig = true;
    else if (t === '-h' || t === '--help') a.help = true;
    else if (t === '-c' || t === '--config') {
      if (argv[i + 1] === undefined || argv[i + 1] === '') throw new UsageError(`${t} needs a file name`);
      a.config = argv[++i];
    } else if (t.startsWith('--config=')) {
      a.config = t.slice(9);
      if (a.config === '') throw new UsageError('--config needs a file name');
    } else throw new UsageError(`serve: unknown argument ${JSON.stringify(t.slice(0, 40))} (see mssql-role-check serve --help)`);
  }
  return a;
}

/** Runs serve; resolves with the exit code for --check-config and --help, and never for the daemon (it exits on a signal). */
export async function serve(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    line(`mssql-role-check: ${(err as Error).message}`);
    return 1;
  }
  if (args.help) {
    writeSync(1, serveUsage());
    return 0;
  }
  if (args.checkConfig) {
    try {
      const c = readServeConfig(args.config, env);
      line(`${args.config}: ok: ${c.targets.length} target(s) (${c.targets.map((t) => `${t.name} ${serverName(t.settings)}`).join(', ')}), listen ${c.listen.host}:${c.listen.port}`);
      return 0;
    } catch (err) {
      line(`mssql-role-check: ${(err as Error).message}`);
      return 1;
    }
  }
  // V8's battery- and memory-saver heuristics (fewer, later compiles; a tighter heap), for the
  // daemon alone and after the chunks with a code cache are compiled (V8's flags key a cache):
  // with 50 targets 76-80 MB after the load against 86-93 MB (bench/SERVE.md, "RSS").
  setFlagsFromString('--battery-saver-mode --memory-saver-mode');
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ configPath: args.config, verbose: args.verbose, write: line, env });
  } catch (err) {
    line(`mssql-role-check: ${err instanceof UsageError ? '' : 'serve: '}${(err as Error).message}`);
    return 1;
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    daemon.log(`stopping (${sig})`);
    daemon.stop();
    // A stat held by a hung mount holds a thread of libuv's pool, which process.exit (and the end
    // of the event loop) wait for, as long as the mount does: then the process ends itself with
    // SIGKILL, at once (a hard NFS mount and FUSE give up a call on SIGKILL).
    const held = [...daemon.pollers.values()].filter((p) => p.statHeld).map((p) => p.target.name);
    if (held.length > 0) {
      daemon.log(`a stat of the maintenance file of ${held.join(', ')} has not returned: ending with SIGKILL`);
      process.kill(process.pid, 'SIGKILL');
    }
    setTimeout(() => process.exit(0), 50).unref();
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), STOP_WITHIN_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  let reloading: Promise<unknown> = Promise.resolve();
  process.on('SIGHUP', () => { reloading = reloading.then(() => daemon.reload()); });
  // An exception nobody caught, thrown in a target's loop (its driver's event handlers, during a
  // poll or between polls), is that driver choking on what its server sent: that target alone
  // fails (PROTOCOL), without facts until it has reconnected. One that no target's loop owns is a
  // bug of the daemon's own, whose state can no longer be trusted: one line and exit 1, which
  // takes every check down (never a false pass) and lets systemd restart it (Restart=on-failure).
  const uncaught = (err: unknown) => {
    const first = String((err as Error)?.message ?? err).split('\n', 1)[0];
    const p = pollerOfContext();
    if (p && !stopping) {
      const when = p.driverFault({ code: 'PROTOCOL', message: first });
      daemon.log(`${p.target.name}: unexpected answer from the server ${when === 'poll' ? 'during a poll' : when === 'idle' ? 'between polls (connection dropped, facts unknown until it reconnects)' : 'after its loop was stopped'}: ${first}`);
      return;
    }
    daemon.log(`internal error: ${first}`);
    process.exit(1);
  };
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  return new Promise<number>(() => {});
}
