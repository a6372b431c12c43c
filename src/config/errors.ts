/**
 * Configuration errors a person can act on.
 *
 * Every problem found while loading is collected as a `ConfigIssue` (a key path in
 * TOML terms plus a sentence saying what was expected, what was found and how to
 * fix it) so one run reports all of them instead of one per edit-and-retry cycle.
 *
 * @module
 */

/** One problem in the configuration. */
export interface ConfigIssue {
  /** Key path in TOML terms: `routes[2].upstream`, `upstreams.api.port`, or an env var name. */
  readonly path: string;
  /** What was expected, what was found, and a fix. */
  readonly message: string;
}

/** Thrown by `loadConfig`/`parseConfig` when the configuration cannot be used. */
export class ConfigError extends Error {
  /** What the CLI keys its exit code on (2: the user's input). */
  readonly code = 'WD_ERR_CONFIG';
  /** The config file path, or `"environment"` when only env vars were read. */
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(formatIssues(source, issues));
    this.name = 'ConfigError';
    this.source = source;
    this.issues = Object.freeze([...issues]);
  }
}

function formatIssues(source: string, issues: readonly ConfigIssue[]): string {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const lines = issues.map((issue) => (issue.path === '' ? `  - ${issue.message}` : `  - ${issue.path}: ${issue.message}`));
  return `invalid configuration in ${source} (${count}):\n${lines.join('\n')}`;
}

/** A bare TOML key needs no quotes; anything else is written as a quoted key. */
const bareKey = /^[A-Za-z0-9_-]+$/;

/** Turns a key list into a TOML-style path: `upstreams.api.instances[1].port`. */
export function tomlPath(keys: readonly (string | number)[]): string {
  let out = '';
  for (const key of keys) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const part = bareKey.test(key) ? key : JSON.stringify(key);
      out += out === '' ? part : `.${part}`;
    }
  }
  return out;
}

/** Renders a found value briefly for a message (`"abc"`, `70000`, `an array`). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (typeof value === 'object') return 'a table';
  return typeof value;
}

/**
 * Edit distance counting an adjacent swap as one edit (optimal string alignment),
 * since swapped letters (`wbe` for `web`) are the commonest typo. Small strings only.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The closest candidate to a misspelt word, if it is close enough to be a likely
 * typo (a third of the word's length, at least 1 and at most 3 edits).
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
