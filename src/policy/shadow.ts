/** @module policy/shadow — finds the rules an earlier rule makes unreachable, indexing earlier rules so the work grows linearly with the rules. */
import { compilePattern, type Pattern } from "./match.ts";
import type { RuleMatch } from "./types.ts";

/** Work done by {@link firstShadows}: trie nodes visited plus method sets compared. */
export interface ShadowStats {
  steps: number;
}

/** An earlier rule limited to some methods. */
interface Restricted {
  index: number;
  methods: ReadonlySet<string>;
}

/** Earlier rules whose pattern ends at one trie node, split by what methods they take. */
interface Ends {
  /** First rule there with every method (`methods: null`); it covers all later ones. */
  anyMethod: number;
  /**
   * First rule per distinct method list (a later copy could never be first), listed under each
   * of its methods in rule order. A rule is covered only by lists holding all of its methods, so
   * only one of its methods' lists needs reading: the shortest.
   */
  byMethod: Map<string, Restricted[]>;
  seen: Set<string>;
}

/** Earlier patterns by segment: literal text, or `:param` (which covers any one segment). */
interface Node {
  literal: Map<string, Node>;
  param: Node | undefined;
  /** Patterns that are exactly the segments down to here. */
  exact: Ends | undefined;
  /** The same segments followed by `/*`: here and everything below. */
  prefix: Ends | undefined;
}

/**
 * For each rule, the index of the first earlier rule that takes all of its requests (as
 * `shadows()` in match.ts decides), or -1. Checking each rule against every earlier one was
 * quadratic: 10,000 rules took over 30 s. Instead earlier patterns go into a trie, and a rule
 * walks only the branches that can cover it: at each of its segments, the same literal or a
 * parameter. `*` rules are kept apart, since they cover everything.
 *
 * @example
 * firstShadows([{ path: "/api/*", methods: null }, { path: "/api/:id", methods: ["GET"] }]);
 * // → [-1, 0]
 */
export function firstShadows(
  matches: readonly RuleMatch[],
  stats: ShadowStats = { steps: 0 },
): number[] {
  const everything = newEnds();
  const root = newNode();
  return matches.map((match, index) => {
    const pattern = compilePattern(match.path);
    const first = findFirst(root, everything, pattern, match.methods, stats);
    insert(root, everything, pattern, index, match.methods);
    return first;
  });
}

function findFirst(
  root: Node,
  everything: Ends,
  later: Pattern,
  methods: readonly string[] | null,
  stats: ShadowStats,
): number {
  let best = firstCovering(everything, methods, Number.POSITIVE_INFINITY, stats);
  if (later.all) return found(best); // only `*` covers `*`
  const { segments } = later;
  let frontier: Node[] = [root];
  for (let depth = 0; frontier.length > 0; depth++) {
    for (const node of frontier) {
      stats.steps++;
      // A prefix of `depth` segments covers every path of at least that many.
      best = firstCovering(node.prefix, methods, best, stats);
      if (depth === segments.length && !later.prefix) {
        best = firstCovering(node.exact, methods, best, stats);
      }
    }
    const segment = segments[depth];
    if (segment === undefined) break;
    const next: Node[] = [];
    for (const node of frontier) {
      const same = segment.param ? undefined : node.literal.get(segment.text);
      if (same !== undefined) next.push(same);
      // An earlier parameter covers a literal or a parameter; a literal never covers a parameter.
      if (node.param !== undefined) next.push(node.param);
    }
    frontier = next;
  }
  return found(best);
}

/** The smaller of `best` and the first rule in `ends` whose methods include all of `methods`. */
function firstCovering(
  ends: Ends | undefined,
  methods: readonly string[] | null,
  best: number,
  stats: ShadowStats,
): number {
  if (ends === undefined) return best;
  const first = Math.min(best, ends.anyMethod);
  // A rule for every method is covered only by another rule for every method.
  if (methods === null) return first;
  let shortest: readonly Restricted[] | undefined;
  for (const method of methods) {
    const list = ends.byMethod.get(method) ?? [];
    if (shortest === undefined || list.length < shortest.length) shortest = list;
  }
  for (const entry of shortest ?? []) {
    if (entry.index >= first) break;
    stats.steps++;
    if (methods.every((m) => entry.methods.has(m))) return entry.index;
  }
  return first;
}

function insert(
  root: Node,
  everything: Ends,
  pattern: Pattern,
  index: number,
  methods: readonly string[] | null,
): void {
  const ends = pattern.all ? everything : endsOf(pattern, root);
  if (ends.anyMethod !== Number.POSITIVE_INFINITY) return; // an earlier rule already covers it
  if (methods === null) {
    ends.anyMethod = index;
    return;
  }
  const key = [...methods].sort().join(" ");
  if (ends.seen.has(key)) return;
  ends.seen.add(key);
  const entry = { index, methods: new Set(methods) };
  for (const method of methods) {
    const list = ends.byMethod.get(method);
    if (list === undefined) ends.byMethod.set(method, [entry]);
    else list.push(entry);
  }
}

/** Where a pattern's rules are kept, creating the branch on first use. */
function endsOf(pattern: Pattern, root: Node): Ends {
  let node = root;
  for (const segment of pattern.segments) {
    let next = segment.param ? node.param : node.literal.get(segment.text);
    if (next === undefined) {
      next = newNode();
      if (segment.param) node.param = next;
      else node.literal.set(segment.text, next);
    }
    node = next;
  }
  const key = pattern.prefix ? "prefix" : "exact";
  const ends = node[key] ?? newEnds();
  node[key] = ends;
  return ends;
}

function newNode(): Node {
  return { literal: new Map(), param: undefined, exact: undefined, prefix: undefined };
}

function newEnds(): Ends {
  return { anyMethod: Number.POSITIVE_INFINITY, byMethod: new Map(), seen: new Set() };
}

function found(index: number): number {
  return index === Number.POSITIVE_INFINITY ? -1 : index;
}
