// SQL Server's collations as sqlsim compares strings under them: the rules of =, <> and the other
// comparison operators (and IN, which is = repeated) for the Latin1 collations sqlsim models.
// Which collation a comparison uses is decided by tsql.ts (collation precedence); this file only
// knows what each collation does.
//
// The rules, with their sources (Microsoft Learn, MicrosoftDocs/sql-docs):
// - Trailing spaces do not count: "The Database Engine follows the ANSI/ISO SQL-92 specification
//   (Section 8.2, Comparison Predicate, General rules #3) on how to compare strings with spaces. The
//   ANSI standard requires padding for the character strings used in comparisons so that their
//   lengths match before comparing them ... 'abc' and 'abc ' to be equivalent" — and SET ANSI_PADDING
//   does not change that. The only exception is LIKE.
//   https://learn.microsoft.com/sql/t-sql/language-elements/string-comparison-assignment (Remarks),
//   and the support article "How SQL Server compares strings with trailing spaces" (KB 316626),
//   which says the same. Neither makes an exception for a collation: binary ones pad too.
//   Only U+0020 pads: the documents speak of spaces, and no other character is stripped here (the
//   stricter side: a name that differs by any other character is another name).
// - The options of a collation name: _CS distinguishes upper and lower case (without it, or with
//   _CI, case is ignored); _AS distinguishes accented and unaccented letters ("a" is not equal to
//   "ấ"; _AI ignores accents); _KS distinguishes Hiragana and Katakana (without it they are equal);
//   _WS distinguishes full-width and half-width forms (without it they are equal); _BIN and _BIN2
//   compare code points (BIN: the first character as a WCHAR, the rest byte by byte; BIN2: pure
//   code-point order), and then none of the other options apply.
//   https://learn.microsoft.com/sql/relational-databases/collations/collation-and-unicode-support
//   (Collation terms, the options table and "Binary collations")
// - SQL_ collations compare Unicode data (nvarchar, sysname: every name column of the catalog views)
//   with the Windows rules of the matching Windows collation ("sorting Unicode data is compatible
//   with a particular version of Windows sorting rules"), so SQL_Latin1_General_CP1_CI_AS compares
//   names as Latin1_General_CI_AS does. Same page, "SQL Server collations".
// - Characters are compared as Unicode defines them: a letter and its canonical decomposition are
//   one character (é = e + U+0301), case is Unicode's (É = é under _CI), accents are the combining
//   marks of the decomposition (é <> e under _AS, é = e under _AI).
//
// What sqlsim does not model (where a real Windows collation differs, sqlsim takes the stricter
// side: the two strings are different): expansions (ß = ss, æ = ae), letters without a
// decomposition that Windows still treats as accented (ø, ł, đ), characters that Windows gives no
// weight (ignorable control and format characters, and in the older collations such as
// Latin1_General_CI_AS and SQL_Latin1_General_CP1_CI_AS many characters their sort tables predate),
// and the code pages of varchar data (every Latin1 collation uses 1252, and sqlsim's catalog
// text is nvarchar). Ordering (<, >) is ICU's on the folded strings, not Windows' word sort.

/** A collation's comparison options. */
export interface Collation {
  /** the name as sys.fn_helpcollations() spells it */
  name: string;
  binary: '' | 'BIN' | 'BIN2';
  caseSensitive: boolean;
  accentSensitive: boolean;
  kanaSensitive: boolean;
  widthSensitive: boolean;
}

/** The collation Setup chooses for the English (United States) locale (Collation and Unicode support, Server-level collations). */
export const DEFAULT_COLLATION = 'SQL_Latin1_General_CP1_CI_AS';

/** The SQL collations sqlsim models (SQL Server Collation Name, sys.fn_helpcollations). */
const SQL_COLLATIONS: Record<string, [cs: boolean, as: boolean]> = {
  SQL_Latin1_General_CP1_CI_AS: [false, true],
  SQL_Latin1_General_CP1_CS_AS: [true, true],
  SQL_Latin1_General_CP1_CI_AI: [false, false],
};

/**
 * Latin1_General[_100]_ then BIN | BIN2 | CI/CS_AI/AS[_KS][_WS], and for the version-100
 * collations [_SC][_UTF8] (Windows Collation Name: CollationDesignator_[version_]ComparisonStyle).
 */
const WINDOWS = /^LATIN1_GENERAL(_100)?_(?:(BIN2?)|(C[IS])_(A[IS])(_KS)?(_WS)?)(_SC)?(_UTF8)?$/;

const byName = new Map<string, Collation | null>();

/** The collation of that name (any case, as COLLATE accepts it), or null when sqlsim does not model it. */
export function findCollation(name: string): Collation | null {
  const upper = name.toUpperCase();
  const hit = byName.get(upper);
  if (hit !== undefined) return hit;
  let found: Collation | null = null;
  const sql = Object.keys(SQL_COLLATIONS).find((n) => n.toUpperCase() === upper);
  if (sql) {
    const [cs, as] = SQL_COLLATIONS[sql];
    found = { name: sql, binary: '', caseSensitive: cs, accentSensitive: as, kanaSensitive: false, widthSensitive: false };
  } else {
    const m = WINDOWS.exec(upper);
    const [, v100, bin, c, a, ks, ws, sc, utf8] = m ?? [];
    // _SC and _UTF8 exist only for the version-100 (and later) collations; a binary one takes no _SC
    if (m && ((!sc && !utf8) || v100) && !(bin && sc)) {
      const parts = ['Latin1', 'General', ...(v100 ? ['100'] : []),
        ...(bin ? [bin] : [c, a, ...(ks ? ['KS'] : []), ...(ws ? ['WS'] : [])]),
        ...(sc ? ['SC'] : []), ...(utf8 ? ['UTF8'] : [])];
      found = {
        name: parts.join('_'), binary: (bin ?? '') as Collation['binary'],
        caseSensitive: c === 'CS', accentSensitive: a === 'AS', kanaSensitive: !!ks, widthSensitive: !!ws,
      };
    }
  }
  byName.set(upper, found);
  return found;
}

/** A collation a scenario names: unknown ones are refused, naming those sqlsim models. */
export function scenarioCollation(name: unknown, where: string): Collation {
  const c = typeof name === 'string' ? findCollation(name) : null;
  if (!c) {
    throw new Error(`scenario: ${where} = ${JSON.stringify(name)} is not a collation sqlsim models ` +
      `(${Object.keys(SQL_COLLATIONS).join(', ')}, Latin1_General[_100]_{CI|CS}_{AI|AS}[_KS][_WS], _BIN, _BIN2)`);
  }
  return c;
}

/**
 * Whether a name looks like a real collation name (a designator, then BIN/BIN2 or the case and
 * accent options): such a name that sqlsim does not model is "not supported", anything else is
 * SQL Server's "Invalid collation".
 */
export function looksLikeCollation(name: string): boolean {
  return /^(SQL_)?[A-Z][A-Z0-9]*(_[A-Z0-9]+)*?_(BIN2?|C[IS]_A[IS](_KS)?(_WS)?(_VSS)?)(_SC)?(_UTF8)?$/i.test(name);
}

// --- comparing -----------------------------------------------------------------------------------

const KEY_CACHE_LIMIT = 20_000;
const keys = new Map<string, string>();
const ORDER = new Intl.Collator('en-US', { sensitivity: 'variant', usage: 'sort' });

/** Full-width ASCII and half-width Katakana/Hangul forms: their width variants (NFKC). */
const WIDTH_FORMS = /[\uFF01-\uFFEE]/g;
/** Hiragana letters and iteration marks, which are Katakana + 0x60. */
const HIRAGANA = /[\u3041-\u3096\u309D\u309E]/g;
const MARKS = /\p{Mn}/gu;

/** Upper then lower case of each character, so σ, ς and Σ meet; a character whose upper case is two (ß) keeps its own lower case. */
function foldCase(s: string): string {
  let out = '';
  for (const ch of s) {
    const up = ch.toUpperCase();
    out += (up.length === ch.length ? up : ch).toLowerCase();
  }
  return out;
}

/** The string as the collation compares it for =: equal keys are equal strings. */
export function comparisonKey(s: string, c: Collation): string {
  const cacheKey = `${c.name}\u0000${s}`;
  const hit = keys.get(cacheKey);
  if (hit !== undefined) return hit;
  let k = s.replace(/ +$/, ''); // the shorter string is padded with spaces: trailing spaces never count
  if (!c.binary) {
    if (!c.widthSensitive) k = k.replace(WIDTH_FORMS, (ch) => ch.normalize('NFKC'));
    k = k.normalize('NFD');
    if (!c.kanaSensitive) k = k.replace(HIRAGANA, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0x60));
    if (!c.accentSensitive) k = k.replace(MARKS, '');
    if (!c.caseSensitive) k = foldCase(k);
  }
  if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
  keys.set(cacheKey, k);
  return k;
}

/** -1, 0 or 1: how a and b compare under the collation (0 exactly when = is true). */
export function compareStrings(a: string, b: string, c: Collation): number {
  const x = comparisonKey(a, c);
  const y = comparisonKey(b, c);
  if (x === y) return 0;
  if (c.binary === 'BIN2') {
    const p = [...x];
    const q = [...y];
    for (let i = 0; i < Math.min(p.length, q.length); i++) {
      if (p[i] !== q[i]) return p[i].codePointAt(0)! < q[i].codePointAt(0)! ? -1 : 1;
    }
    return p.length < q.length ? -1 : 1;
  }
  if (!x || !y) return x ? 1 : -1;
  if (c.binary === 'BIN') {
    if (x.charCodeAt(0) !== y.charCodeAt(0)) return x.charCodeAt(0) < y.charCodeAt(0) ? -1 : 1;
    const r = Buffer.compare(Buffer.from(x.slice(1), 'utf16le'), Buffer.from(y.slice(1), 'utf16le'));
    return r === 0 ? (x.length < y.length ? -1 : 1) : r;
  }
  const r = ORDER.compare(x, y);
  return r !== 0 ? Math.sign(r) : x < y ? -1 : 1; // ICU calls some different keys equal: keep = exact
}

/** Whether two names are the same name under the collation (a catalog lookup: DB_ID, USE, a login). */
export function sameName(a: string, b: string, c: Collation): boolean {
  return compareStrings(a, b, c) === 0;
}

// --- LIKE ----------------------------------------------------------------------------------------
//
// LIKE (Transact-SQL), https://learn.microsoft.com/sql/t-sql/language-elements/like-transact-sql:
// % is any string, _ any single character, [a-f] / [abc] one character in the range or set and
// [^…] one not in it ("the characters included in the range may vary depending on the sorting
// rules of the collation"); ESCAPE makes the next character a plain one, and a pattern that ends
// with the escape character matches nothing. "LIKE comparisons are affected by collation": each
// character compares as = does. "All characters in the pattern string are significant", trailing
// spaces too; in the match expression trailing blanks are significant for Unicode data (nvarchar,
// every catalog name) and ignored for non-Unicode data (Pattern Matching by Using LIKE).

type LikeItem =
  | { kind: 'any' }
  | { kind: 'one' }
  | { kind: 'unit'; key: string }
  | { kind: 'set'; negate: boolean; members: Array<{ lo: string; hi: string }> };

/** A string as the collation sees it, one character (a base letter and its marks) at a time. */
function units(s: string, c: Collation): string[] {
  return comparisonKey(s + '\u0000', c).slice(0, -1).match(/\P{M}\p{M}*|\p{M}+/gu) ?? [];
}

function parseLike(pattern: string, escape: string | null, c: Collation): LikeItem[] | null {
  const p = [...pattern];
  const items: LikeItem[] = [];
  let literal = '';
  const flush = () => {
    for (const key of units(literal, c)) items.push({ kind: 'unit', key });
    literal = '';
  };
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (escape !== null && ch === escape) {
      if (i + 1 >= p.length) return null;
      literal += p[++i];
    } else if (ch === '%' || ch === '_') {
      flush();
      items.push({ kind: ch === '%' ? 'any' : 'one' });
    } else if (ch === '[' && p.indexOf(']', i + 2) > 0) {
      flush();
      let j = i + 1;
      const negate = p[j] === '^';
      if (negate) j++;
      const members: Array<{ lo: string; hi: string }> = [];
      for (; j < p.length && !(p[j] === ']' && j > i + 1 + (negate ? 1 : 0)); j++) {
        let lo = p[j];
        if (escape !== null && lo === escape && j + 1 < p.length) lo = p[++j];
        if (p[j + 1] === '-' && j + 2 < p.length && p[j + 2] !== ']') {
          members.push({ lo, hi: p[j + 2] });
          j += 2;
        } else {
          members.push({ lo, hi: lo });
        }
      }
      items.push({ kind: 'set', negate, members });
      i = j;
    } else {
      literal += ch;
    }
  }
  flush();
  return items;
}

/** Whether s matches the LIKE pattern under the collation; unicode: the data is nvarchar (trailing blanks count). */
export function likeMatches(s: string, pattern: string, escape: string | null, c: Collation, unicode = true): boolean {
  const items = parseLike(pattern, escape, c);
  if (!items) return false;
  const text = units(unicode ? s : s.replace(/ +$/, ''), c);
  const inSet = (u: string, item: Extract<LikeItem, { kind: 'set' }>) => {
    const hit = item.members.some(({ lo, hi }) => lo === hi
      ? units(lo, c)[0] === u
      : compareStrings(lo, u, c) <= 0 && compareStrings(u, hi, c) <= 0);
    return hit !== item.negate;
  };
  // memoised backtracking: can items[k…] match text[j…]?
  const memo = new Map<number, boolean>();
  const match = (k: number, j: number): boolean => {
    const id = k * (text.length + 1) + j;
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (k === items.length) r = j === text.length;
    else {
      const item = items[k];
      if (item.kind === 'any') r = match(k + 1, j) || (j < text.length && match(k, j + 1));
      else if (j >= text.length) r = false;
      else if (item.kind === 'one') r = match(k + 1, j + 1);
      else if (item.kind === 'unit') r = item.key === text[j] && match(k + 1, j + 1);
      else r = inSet(text[j], item) && match(k + 1, j + 1);
    }
    memo.set(id, r);
    return r;
  };
  return match(0, 0);
}
