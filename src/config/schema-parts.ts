/**
 * The building blocks of the config schemas (schema.ts, file-settings.ts): TOML
 * tables with unknown-key suggestions, and the "expected X, found Y; fix: Z"
 * message every check uses.
 *
 * @module
 */

import * as v from 'valibot';
import { describeValue, didYouMean } from './errors.js';

type Issue = v.BaseIssue<unknown>;
type Message = (issue: Issue) => string;

/** "expected <what>, found <input>[; fix: ...]" for whichever action failed. */
export function expect(what: string, fix?: string | ((input: unknown) => string)): Message {
  return (issue) => {
    const hint = typeof fix === 'function' ? fix(issue.input) : fix;
    return `expected ${what}, found ${describeValue(issue.input)}${hint === undefined ? '' : `; fix: ${hint}`}`;
  };
}

/**
 * A TOML table with a fixed set of keys. Unknown keys are errors (a misspelt
 * `path_prefx` would otherwise silently match everything), with a suggestion.
 */
export function table<const Entries extends v.ObjectEntries>(entries: Entries, what: string) {
  const keys = Object.keys(entries);
  return v.pipe(
    // valibot's object schemas accept arrays too (they are objects); TOML users
    // who write `health = []` deserve "expected a table", not "unknown key 0".
    v.custom<unknown>(isTableValue, (issue) => `expected ${what} (a TOML table), found ${describeValue(issue.input)}`),
    v.strictObject(entries, (issue) => {
      if (issue.expected === 'never') {
        const key = String(issue.input);
        const suggestion = didYouMean(key, keys);
        return `unknown key "${key}" in ${what}${suggestion}${suggestion === '' ? `; valid keys: ${keys.join(', ')}` : ''}`;
      }
      if (issue.received === 'undefined' && issue.expected?.startsWith('"')) {
        return `required key ${issue.expected} is missing from ${what}; fix: add ${issue.expected.slice(1, -1)} = ...`;
      }
      return `expected ${what} (a TOML table), found ${describeValue(issue.input)}`;
    }),
  );
}

function isTableValue(input: unknown): boolean {
  return input !== null && typeof input === 'object' && !Array.isArray(input) && !(input instanceof Date);
}

export const boolean = v.boolean(expect('true or false'));

export function text(what = 'a string') {
  return v.pipe(v.string(expect(what)), v.nonEmpty(expect(`a non-empty ${what.replace(/^an? /, '')}`)));
}

export function integer(min: number, max: number, what: string, fix?: string) {
  const message = expect(what, fix);
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

export function regexError(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
