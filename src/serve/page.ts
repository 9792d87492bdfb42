// The status page (GET /): one HTML document rendered here, with no script, no external asset and
// no font or image to fetch (it works air-gapped); it refreshes itself with a meta refresh, and its
// table turns into one card per row on a narrow screen. Every value shown goes through escapeHtml.
// GET /targets and /?format=json give the same data as JSON. The history of changes is bounded, as
// blackbox_exporter's prober/history.go keeps its results: the newest N, older ones dropped.
import type { DatabaseFacts } from '../facts.ts';
import { groupsOf } from '../facts.ts';

export type VerdictLabel = 'pass' | 'fail' | 'drained' | 'unknown';

export interface Change {
  /** ms since the epoch */
  at: number;
  target: string;
  database: string;
  from: VerdictLabel;
  to: VerdictLabel;
  reason: string;
}

export interface PageRow {
  target: string;
  server: string;
  database: string;
  /** the role the target is checked for (its configured one) */
  asked: string;
  /** what the server says it is for this database, from its latest facts */
  role: string;
  verdict: VerdictLabel;
  status: number;
  reason: string;
  ageSeconds: number | null;
  lastChange: Change | null;
}

export interface PageGroup {
  name: string;
  members: string[];
  primary: string | null;
  reason: string;
}

export interface PageData {
  generatedAt: string;
  refreshSeconds: number;
  rows: PageRow[];
  groups: PageGroup[];
  splitBrains: string[];
  probePorts: { target: string; address: string; role: string; open: boolean }[];
  changes: Change[];
}

/** The newest `max` changes, and the latest one of each target and database. */
export class History {
  private readonly max: number;
  private readonly recent: Change[] = [];
  private readonly last = new Map<string, Change>();

  constructor(max = 100) {
    this.max = max;
  }

  add(c: Change): void {
    this.recent.push(c);
    if (this.recent.length > this.max) this.recent.splice(0, this.recent.length - this.max);
    this.last.set(`${c.target}\0${c.database}`, c);
  }

  lastOf(target: string, database: string): Change | null {
    return this.last.get(`${target}\0${database}`) ?? null;
  }

  /** newest first */
  list(): Change[] {
    return [...this.recent].reverse();
  }

  /** forget a target that left the config */
  forget(keep: (target: string) => boolean): void {
    for (const [k, c] of this.last) if (!keep(c.target)) this.last.delete(k);
  }
}

/** What the server says it is for one database, in a few words. */
export function roleShown(f: DatabaseFacts | undefined): string {
  if (!f) return 'unknown (no fresh facts)';
  if (f.rows === 0 || f.database_id === null) return 'not found';
  if (f.mirroring_guid !== null) return `mirroring ${f.mirroring_role_desc ?? 'role NULL'}, ${f.mirroring_state_desc ?? 'state NULL'}`;
  const groups = groupsOf(f);
  if (groups.length > 0) return groups.map((g) => `${g.ag_name ?? 'availability group'}: ${g.role_desc ?? 'role NULL'}`).join('; ');
  if (f.db_replica_id !== null) return 'in an availability group (rows hidden)';
  if (f.state_desc !== 'ONLINE') return f.state_desc ?? 'state NULL';
  return `ONLINE, ${f.updateability ?? 'Updateability NULL'}`;
}

export function escapeHtml(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const age = (s: number | null) => (s === null ? '–' : `${s.toFixed(1)} s`);

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:80rem;padding:.5rem 1rem;color:#111;background:#fff}
h1{font-size:1.2rem;margin:.5rem 0}h2{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}td.reason{overflow-wrap:anywhere;max-width:36rem}
.pass{color:#0a6b22;font-weight:600}.fail{color:#b00020;font-weight:600}.drained{color:#8a5a00;font-weight:600}.unknown{color:#555;font-weight:600}
.alert{background:#fde7ea;border:1px solid #b00020;padding:.4rem .6rem;margin:.4rem 0}
.muted{color:#555}
@media (max-width:640px){table,thead,tbody,tr,th,td{display:block}thead{display:none}
tr{border:1px solid #ddd;margin:.5rem 0;padding:.3rem}td{border:none;padding:.15rem .3rem}
td::before{content:attr(data-label) ": ";font-weight:600;color:#333}td.reason{max-width:none}}
`;

function cell(label: string, value: string, cls = ''): string {
  return `<td data-label="${escapeHtml(label)}"${cls ? ` class="${cls}"` : ''}>${value}</td>`;
}

export function renderPage(d: PageData): string {
  const e = escapeHtml;
  const rows = d.rows.map((r) => `<tr data-target="${e(r.target)}" data-database="${e(r.database)}" data-verdict="${e(r.verdict)}">`
    + cell('target', `${e(r.target)}<div class="muted">${e(r.server)}</div>`)
    + cell('database', e(r.database))
    + cell('role', e(r.role))
    + cell('verdict', `<span class="${e(r.verdict)}">${e(r.verdict)}</span> <span class="muted">(${e(r.asked)}, ${e(r.status)})</span>`)
    + cell('reason', e(r.reason), 'reason')
    + cell('facts\u2019 age', e(age(r.ageSeconds)))
    + cell('last change', r.lastChange ? `${e(r.lastChange.from)} \u2192 ${e(r.lastChange.to)}<div class="muted">${e(time(r.lastChange.at))}</div>` : '<span class="muted">none seen</span>')
    + '</tr>').join('\n');
  const groups = d.groups.length === 0 ? '' : `<h2>Groups</h2>
<table><thead><tr><th>group</th><th>members</th><th>primary</th><th>why</th></tr></thead><tbody>
${d.groups.map((g) => `<tr data-group="${e(g.name)}" data-primary="${e(g.primary ?? '')}">${cell('group', e(g.name))}${cell('members', e(g.members.join(', ')))}${cell('primary', g.primary ? `<span class="pass">${e(g.primary)}</span>` : '<span class="fail">none</span>')}${cell('why', e(g.reason), 'reason')}</tr>`).join('\n')}
</tbody></table>`;
  const alerts = d.splitBrains.map((s) => `<div class="alert" data-split-brain>${e(s)}</div>`).join('\n');
  const ports = d.probePorts.length === 0 ? '' : `<h2>Probe ports</h2>
<table><thead><tr><th>address</th><th>target</th><th>role</th><th>state</th></tr></thead><tbody>
${d.probePorts.map((p) => `<tr data-probe-port="${e(p.address)}">${cell('address', e(p.address))}${cell('target', e(p.target))}${cell('role', e(p.role))}${cell('state', p.open ? '<span class="pass">listening</span>' : '<span class="fail">closed</span>')}</tr>`).join('\n')}
</tbody></table>`;
  const changes = d.changes.length === 0 ? '<p class="muted">No change seen since the daemon started.</p>'
    : `<table><thead><tr><th>time</th><th>target</th><th>database</th><th>change</th><th>reason</th></tr></thead><tbody>
${d.changes.map((c) => `<tr data-change>${cell('time', e(time(c.at)))}${cell('target', e(c.target))}${cell('database', e(c.database))}${cell('change', `${e(c.from)} \u2192 <span class="${e(c.to)}">${e(c.to)}</span>`)}${cell('reason', e(c.reason), 'reason')}</tr>`).join('\n')}
</tbody></table>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta http-equiv="refresh" content="${e(d.refreshSeconds)}">
<title>mssql-role-check serve</title>
<style>${STYLE}</style></head>
<body>
<h1>mssql-role-check serve</h1>
<p class="muted">As of ${e(d.generatedAt)}; this page reloads every ${e(d.refreshSeconds)} s. Data: <a href="/targets">/targets</a>.</p>
${alerts}
<h2>Targets</h2>
<table id="targets"><thead><tr><th>target</th><th>database</th><th>role</th><th>verdict</th><th>reason</th><th>facts\u2019 age</th><th>last change</th></tr></thead><tbody>
${rows}
</tbody></table>
${groups}
${ports}
<h2>Recent changes</h2>
${changes}
</body></html>
`;
}
