// A stand-in for the image's sqlcmd, for test/docker.test.ts: it replays recorded sqlcmd outputs
// (FAKE_REPLAY, a file of ./replays) for the batches the scripts send, so that the scripts' and
// the runner's handling of what SQL Server says can be tested without an engine.
//
// A replay file: { "description", "include"?: "other.json", "rules": [Rule, ...] }. The first rule
// whose host (if given) is sqlcmd's -S and whose "sql" (a regular expression, case-insensitive)
// matches the batch answers it; the rules of an included file come after the file's own. A rule
// answers with its own stdout / stderr / exit, or, with "replies", with the n-th reply on its n-th
// use (the last one again after that). "control" lines ("sqla: state salesdb OFFLINE") go to the
// control socket of that fake container (sqlsim, see ./docker.ts), so the catalog the check
// reads changes as the statement would change it.
//
// Writes one line per call to FAKE_DOCKER_STATE/sqlcmd.log, and UNMATCHED (exit 1) for a batch no
// rule answers; BADARGS when sqlcmd is called without -b and -r1 or with -P, NOPASSWORD without
// SQLCMDPASSWORD.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

interface Reply {
  stdout?: string | string[];
  stderr?: string | string[];
  exit?: number;
  control?: string[];
}
interface Rule extends Reply {
  host?: string;
  sql: string;
  replies?: Reply[];
}
interface ReplayFile {
  description?: string;
  include?: string;
  rules: Rule[];
}

const state = process.env.FAKE_DOCKER_STATE!;
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const host = opt('-S') ?? '';
const input = opt('-i');
const logLine = (s: string) => appendFileSync(join(state, 'sqlcmd.log'), s + '\n');

function load(file: string): Rule[] {
  const r = JSON.parse(readFileSync(file, 'utf8')) as ReplayFile;
  return [...r.rules, ...(r.include ? load(join(dirname(file), r.include)) : [])];
}

function text(t: string | string[] | undefined): string {
  if (t === undefined) return '';
  const s = Array.isArray(t) ? t.join('\n') : t;
  return s === '' || s.endsWith('\n') ? s : s + '\n';
}

async function control(line: string): Promise<void> {
  const m = /^(\w+):\s*(.+)$/.exec(line);
  if (!m) throw new Error(`bad control line: ${line}`);
  const sock = join(state, 'containers', `${m[1]}.sock`);
  // A script run on its own (no fake containers) has no catalog to change.
  if (!existsSync(join(state, 'containers'))) return;
  await new Promise<void>((resolve, reject) => {
    const c = connect(sock);
    let answer = '';
    c.setEncoding('utf8');
    c.on('error', reject);
    c.on('data', (d: string) => {
      answer += d;
      if (answer.includes('\n')) {
        c.end();
        if (answer.startsWith('ok')) resolve();
        else reject(new Error(`${m[1]}: ${answer.trim()}`));
      }
    });
    c.write(m[2] + '\n');
  });
}

async function main(): Promise<number> {
  if (!args.includes('-b') || !args.includes('-r1') || args.includes('-P')) logLine(`BADARGS ${args.join(' ')}`);
  if (!process.env.SQLCMDPASSWORD) logLine(`NOPASSWORD ${host}`);
  if (!input) {
    process.stderr.write('fake sqlcmd: only -i FILE is replayed\n');
    return 1;
  }
  const batch = readFileSync(input, 'utf8');
  const rules = load(process.env.FAKE_REPLAY!);
  const index = rules.findIndex((r) => (r.host === undefined || r.host === host) && new RegExp(r.sql, 'i').test(batch));
  const summary = batch.replace(/^SET NOCOUNT ON;\n/, '').trim().split('\n')[0];
  if (index < 0) {
    logLine(`UNMATCHED ${host}\t${summary}`);
    process.stderr.write(`fake sqlcmd: no recorded output on ${host} for this batch:\n${batch}\n`);
    return 1;
  }
  const rule = rules[index];
  let reply: Reply = rule;
  let n = 0;
  if (rule.replies) {
    // the counter is per rule of the whole replay (the rule index), kept in the state folder
    const counter = join(state, `replay-${index}.count`);
    n = existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0;
    writeFileSync(counter, String(n + 1));
    reply = rule.replies[Math.min(n, rule.replies.length - 1)];
  }
  for (const line of reply.control ?? []) await control(line);
  logLine(`${host}\trule ${index}${rule.replies ? ` reply ${Math.min(n, rule.replies.length - 1)}` : ''}\texit ${reply.exit ?? 0}\t${summary}`);
  process.stdout.write(text(reply.stdout));
  process.stderr.write(text(reply.stderr));
  return reply.exit ?? 0;
}

process.exitCode = await main();
