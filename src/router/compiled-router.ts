/**
 * The compiled router: the `[[routes]]` list turned once into a decision
 * structure that picks the same route as the in-order scan (first match wins)
 * without looking at routes that cannot match.
 *
 * Layout:
 * - host level: exact hosts in a Map; wildcard suffixes (`*.example.com`) in a radix
 *   tree of the reversed suffixes, read from the host's last character; host-less
 *   routes in a group of their own. A request may
 *   reach several groups (its exact host, every wildcard it falls under, host-less).
 * - per group: one radix tree (compressed character trie) walked along the path.
 *   `path_prefix` routes sit on the node of their prefix, and the node checks give
 *   exactly `isPathUnderPrefix`'s segment-boundary rule; `path_exact` routes sit on
 *   the node of their path and count only when the path ends there (one walk instead
 *   of a separate Map probe per group, which measured slower: a hash-table probe is
 *   one more cache miss per host level); regex-only routes anchored on a literal
 *   (`^/api/v1/items/...`) sit under that literal; routes with none of these are in
 *   a plain list.
 * - the leftover conditions (regex, methods, header, a prefix beside an exact path)
 *   are checked on the candidates only, by the same code the scan uses.
 *
 * First match wins across all of this: every candidate list is sorted by route
 * position, and a search carries `bound`, the position of the best match found so
 * far; a list is read only while its positions are below the bound. The result is
 * therefore the lowest-positioned matching route, whichever level it sits on.
 *
 * Immutable once built: a reload builds a new router and swaps the reference.
 *
 * @module
 */
import { compileRemainingConditions, literalRegexPrefix, type RoutePredicate } from './route-predicate.js';
import type { HeaderLookup, RouteRule, Router } from './types.js';

/** A route as the tree stores it: its position in the list and what is left to check. */
interface Candidate {
  readonly position: number;
  /** undefined when the tree has settled every condition. */
  readonly remaining: RoutePredicate | undefined;
}

/**
 * No match found yet: larger than any position. 2^30 - 1 is a small integer (Smi)
 * on every V8 build, so positions, bounds and this sentinel share one integer
 * representation in fields and registers (a larger number would box the fields
 * that hold it as heap numbers).
 */
const NO_MATCH = 2 ** 30 - 1;

/**
 * The lowest position in `candidates` (sorted by position) below `bound` whose
 * remaining conditions hold, else `bound`.
 */
function firstMatchIn(candidates: readonly Candidate[], bound: number, method: string, host: string, path: string, headers: HeaderLookup): number {
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    if (candidate.position >= bound) return bound; // sorted: nothing later can beat the bound
    if (candidate.remaining === undefined || candidate.remaining(method, host, path, headers)) return candidate.position;
  }
  return bound;
}

const HAS_PREFIX = 1; // prefixSettled or prefixChecked
const HAS_PREFIX_CHECKED = 2;
const HAS_EXACT = 4; // exactSettled or exactChecked
const HAS_EXACT_CHECKED = 8;
const HAS_REGEX = 16;

/** One node of the prefix radix tree; its full string is the concatenation of labels from the root. */
class PrefixNode {
  label: string;
  /** Length of the full string this node stands for. */
  depth: number;
  /** The full string ends with '/', so any continuation is at a segment boundary. */
  endsWithSlash: boolean;
  /*
   * Candidates come in three kinds, each split for the walk into `...Settled`, the
   * position of the first route with nothing left to check (it matches whenever
   * the node applies, so routes listed after it can never win and are dropped), and
   * `...Checked`, the routes before it that still need their conditions run. In the
   * common case, one route with nothing left to check, the walk reads a number on
   * the node it holds and loads no array and no candidate object.
   */
  /** `path_prefix` routes whose prefix is this node's string. */
  prefixSettled = NO_MATCH;
  prefixChecked: Candidate[] = [];
  /** `path_exact` routes whose path is this node's string: only when the path ends here. */
  exactSettled = NO_MATCH;
  exactChecked: Candidate[] = [];
  /**
   * Regex routes whose every match starts with this node's string (see
   * literalRegexPrefix): candidates whenever the walk reaches the node. The regex
   * always remains to be run, so there is no settled part.
   */
  regexChecked: Candidate[] = [];
  /**
   * Which lists are non-empty (bits below). The walk reads this one field of the
   * node it already holds instead of the arrays' lengths, each one more object to load.
   */
  lists = 0;
  /**
   * Children by the char code of their label's first character. A sparse array
   * indexed by char code is one element load per step, cheaper than a Map lookup;
   * codes of 128 and above (never in a normalised path) go to a Map.
   */
  asciiChildren: Array<PrefixNode | undefined> = [];
  /** In the wildcard tree only: the group of the host suffix ending here. */
  hostGroup: RouteGroup | undefined = undefined;
  otherChildren: Map<number, PrefixNode> | undefined = undefined;

  constructor(label: string, depth: number, endsWithSlash: boolean) {
    this.label = label;
    this.depth = depth;
    this.endsWithSlash = endsWithSlash;
  }

  /** Routes arrive in position order, so a list only ever grows at its end. */
  addPrefix(position: number, remaining: RoutePredicate | undefined): void {
    this.lists |= HAS_PREFIX;
    if (this.prefixSettled !== NO_MATCH) return; // shadowed within this node
    if (remaining === undefined) this.prefixSettled = position;
    else {
      this.prefixChecked.push({ position, remaining });
      this.lists |= HAS_PREFIX_CHECKED;
    }
  }

  addExact(position: number, remaining: RoutePredicate | undefined): void {
    this.lists |= HAS_EXACT;
    if (this.exactSettled !== NO_MATCH) return; // shadowed within this node
    if (remaining === undefined) this.exactSettled = position;
    else {
      this.exactChecked.push({ position, remaining });
      this.lists |= HAS_EXACT_CHECKED;
    }
  }

  addRegex(position: number, remaining: RoutePredicate | undefined): void {
    this.regexChecked.push({ position, remaining });
    this.lists |= HAS_REGEX;
  }

  child(code: number): PrefixNode | undefined {
    return code < 128 ? this.asciiChildren[code] : this.otherChildren?.get(code);
  }

  setChild(node: PrefixNode): void {
    const code = node.label.charCodeAt(0);
    if (code < 128) this.asciiChildren[code] = node;
    else (this.otherChildren ??= new Map()).set(code, node);
  }
}

/** Inserts `prefix` below `root` (splitting edges as needed) and returns its node. */
function insertPrefix(root: PrefixNode, prefix: string): PrefixNode {
  let node = root;
  let offset = 0;
  while (offset < prefix.length) {
    const next = node.child(prefix.charCodeAt(offset));
    if (next === undefined) {
      const leaf = new PrefixNode(prefix.slice(offset), prefix.length, prefix.charCodeAt(prefix.length - 1) === 47);
      node.setChild(leaf);
      return leaf;
    }
    // Length of the common part of next.label and prefix[offset..].
    let common = 0;
    const label = next.label;
    while (common < label.length && offset + common < prefix.length && label.charCodeAt(common) === prefix.charCodeAt(offset + common)) common++;
    if (common < label.length) {
      // Split the edge: a middle node for the common part, `next` keeps the rest.
      const middleDepth = offset + common;
      const middle = new PrefixNode(label.slice(0, common), middleDepth, label.charCodeAt(common - 1) === 47);
      next.label = label.slice(common);
      middle.setChild(next);
      node.setChild(middle);
      node = middle;
    } else {
      node = next;
    }
    offset += common;
  }
  return node;
}

/** The routes of one host level (one exact host, one wildcard suffix, or no host). */
class RouteGroup {
  /** Lowest position of any route in the group: a group is skipped when it cannot beat the bound. */
  minPosition = NO_MATCH;
  readonly prefixRoot = new PrefixNode('', 0, false);
  /** Lowest position in the tree; the tree is not walked when it cannot beat the bound (or is empty). */
  treeMinPosition = NO_MATCH;
  /**
   * Routes that the tree cannot place (no exact path, no prefix, no literal-led
   * regex): candidates for every path, split like a node's lists into the first
   * route with nothing left to check and the routes before it.
   */
  anySettled = NO_MATCH;
  readonly anyChecked: Candidate[] = [];

  add(position: number, route: RouteRule, hostSettled: boolean): void {
    const { pathExact, pathPrefix } = route.match;
    this.minPosition = Math.min(this.minPosition, position);
    if (pathExact !== undefined) {
      // Index by the exact path (the more selective key); a prefix beside it stays a check.
      const remaining = compileRemainingConditions(route.match, { host: hostSettled, pathExact: true, pathPrefix: false });
      insertPrefix(this.prefixRoot, pathExact).addExact(position, remaining);
      this.treeMinPosition = Math.min(this.treeMinPosition, position);
    } else if (pathPrefix !== undefined) {
      const remaining = compileRemainingConditions(route.match, { host: hostSettled, pathExact: false, pathPrefix: true });
      insertPrefix(this.prefixRoot, pathPrefix).addPrefix(position, remaining);
      this.treeMinPosition = Math.min(this.treeMinPosition, position);
    } else {
      const remaining = compileRemainingConditions(route.match, { host: hostSettled, pathExact: false, pathPrefix: false });
      const literal = route.match.pathRegex === undefined ? '' : literalRegexPrefix(route.match.pathRegex);
      if (literal.length !== 0) {
        // Only paths starting with the literal can match: file the route there; the regex still runs.
        insertPrefix(this.prefixRoot, literal).addRegex(position, remaining);
        this.treeMinPosition = Math.min(this.treeMinPosition, position);
      } else if (this.anySettled === NO_MATCH) {
        if (remaining === undefined) this.anySettled = position;
        else this.anyChecked.push({ position, remaining });
      } // else: shadowed by anySettled, which matches every request this group sees
    }
  }

  /** The lowest matching position in this group below `bound`, else `bound`. */
  search(bound: number, method: string, host: string, path: string, headers: HeaderLookup): number {
    if (this.minPosition >= bound) return bound;
    if (this.anyChecked.length !== 0) bound = firstMatchIn(this.anyChecked, bound, method, host, path, headers);
    if (this.anySettled < bound) bound = this.anySettled;
    if (this.treeMinPosition < bound) bound = this.searchTree(bound, method, host, path, headers);
    return bound;
  }

  /**
   * Walks the radix tree along `path` by index (no slicing). At each node the path
   * starts with the node's string, so: its prefix routes apply at a segment boundary
   * (the same rule as `isPathUnderPrefix`: the string ends with '/', or the path ends
   * there, or continues with '/'); its regex routes are candidates; its exact routes
   * apply only when the path ends there.
   */
  private searchTree(bound: number, method: string, host: string, path: string, headers: HeaderLookup): number {
    const length = path.length;
    let node: PrefixNode | undefined = this.prefixRoot;
    while (node !== undefined) {
      const depth = node.depth;
      const lists = node.lists;
      if (lists !== 0) {
        if ((lists & HAS_PREFIX) !== 0 && (node.endsWithSlash || depth === length || path.charCodeAt(depth) === 47)) {
          if ((lists & HAS_PREFIX_CHECKED) !== 0) bound = firstMatchIn(node.prefixChecked, bound, method, host, path, headers);
          if (node.prefixSettled < bound) bound = node.prefixSettled;
        }
        if ((lists & HAS_EXACT) !== 0 && depth === length) {
          if ((lists & HAS_EXACT_CHECKED) !== 0) bound = firstMatchIn(node.exactChecked, bound, method, host, path, headers);
          if (node.exactSettled < bound) bound = node.exactSettled;
        }
        if ((lists & HAS_REGEX) !== 0) bound = firstMatchIn(node.regexChecked, bound, method, host, path, headers);
      }
      if (depth >= length) break;
      const next: PrefixNode | undefined = node.child(path.charCodeAt(depth));
      // startsWith with a position compares in place, without a substring.
      if (next === undefined || !path.startsWith(next.label, depth)) break;
      node = next;
    }
    return bound;
  }
}

/**
 * The wildcard host suffixes (`*.example.com` -> ".example.com") in a radix tree of
 * the suffixes written backwards, so the host is read from its last character:
 * a host that ends differently from every suffix leaves after one array load,
 * and a matching one is compared in place, without substrings or hashing.
 */
class WildcardTree {
  readonly root = new PrefixNode('', 0, false);
  /** Group of the suffix that ends at a node (by node), set at build time. */
  readonly #groups = new Map<PrefixNode, RouteGroup>();

  groupFor(suffix: string): RouteGroup {
    // split(''): UTF-16 units, as charCodeAt reads them (a spread would keep surrogate pairs together).
    const node = insertPrefix(this.root, suffix.split('').reverse().join(''));
    let group = this.#groups.get(node);
    if (group === undefined) {
      this.#groups.set(node, (group = new RouteGroup()));
      node.hostGroup = group;
    }
    return group;
  }

  get isEmpty(): boolean {
    return this.#groups.size === 0;
  }
}

/** True when host[from], host[from-1], ... spell `reversedLabel` (read backwards, in place). */
function endsWithReversed(host: string, from: number, reversedLabel: string): boolean {
  if (reversedLabel.length > from + 1) return false;
  for (let i = 0; i < reversedLabel.length; i++) {
    if (host.charCodeAt(from - i) !== reversedLabel.charCodeAt(i)) return false;
  }
  return true;
}

export class CompiledRouter<R extends RouteRule> implements Router<R> {
  readonly #routes: readonly R[];
  readonly #exactHosts = new Map<string, RouteGroup>();
  readonly #wildcards = new WildcardTree();
  /** No wildcard routes: skip the wildcard walk entirely. */
  readonly #hasWildcards: boolean;
  readonly #hostless = new RouteGroup();

  constructor(routes: readonly R[]) {
    if (routes.length >= NO_MATCH) throw new RangeError(`too many routes (${routes.length}); at most ${NO_MATCH - 1}`);
    this.#routes = routes.slice();
    for (let position = 0; position < routes.length; position++) {
      const route = routes[position]!;
      const host = route.match.host;
      if (host === undefined) {
        this.#hostless.add(position, route, true);
      } else if (host.charCodeAt(0) === 42 /* * */) {
        this.#wildcards.groupFor(host.slice(1)).add(position, route, true);
      } else {
        let group = this.#exactHosts.get(host);
        if (group === undefined) this.#exactHosts.set(host, (group = new RouteGroup()));
        group.add(position, route, true);
      }
    }
    this.#hasWildcards = !this.#wildcards.isEmpty;
    Object.freeze(this);
  }

  match(method: string, host: string, path: string, headers: HeaderLookup): R | undefined {
    let bound = NO_MATCH;
    const exactGroup = this.#exactHosts.get(host);
    if (exactGroup !== undefined) bound = exactGroup.search(bound, method, host, path, headers);
    if (this.#hasWildcards) bound = this.#searchWildcards(bound, method, host, path, headers);
    bound = this.#hostless.search(bound, method, host, path, headers);
    return bound === NO_MATCH ? undefined : this.#routes[bound];
  }

  /**
   * Every wildcard `*<suffix>` with host.length > suffix.length and host ending in
   * suffix (isHostMatch's rule): walk the reversed-suffix tree from the host's last
   * character; a node reached has a suffix the host ends with.
   */
  #searchWildcards(bound: number, method: string, host: string, path: string, headers: HeaderLookup): number {
    const last = host.length - 1;
    let node: PrefixNode | undefined = this.#wildcards.root;
    while (node !== undefined) {
      const depth = node.depth;
      // The host must be longer than the suffix: '*' stands for at least one character.
      if (depth > last) break;
      if (node.hostGroup !== undefined) bound = node.hostGroup.search(bound, method, host, path, headers);
      const next: PrefixNode | undefined = node.child(host.charCodeAt(last - depth));
      if (next === undefined || !endsWithReversed(host, last - depth, next.label)) break;
      node = next;
    }
    return bound;
  }
}
