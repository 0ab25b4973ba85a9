/** @module cli/suggest — "did you mean …?" for mistyped commands and options. */

/**
 * The candidate nearest to `typed` by edit distance, if it is close enough to
 * be a typo (at most 2 edits, and fewer than half the word).
 *
 * @example
 * closest("--tenat", ["--tenant", "--plan"]); // → "--tenant"
 * closest("--zzz", ["--tenant"]);             // → undefined
 */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor((typed.length - 1) / 2));
  for (const candidate of candidates) {
    const d = distance(typed, candidate);
    if (d <= bestDistance) {
      best = candidate;
      bestDistance = d - 1;
    }
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
