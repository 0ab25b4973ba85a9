/** @module cli/format — plain-text building blocks: aligned tables and short durations. */

/**
 * Left-aligned columns separated by two spaces; missing values print as "-".
 *
 * @example
 * table(["ID", "PLAN"], [["acme", "pro"]]); // "ID    PLAN\nacme  pro"
 */
export function table(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
): string {
  const cells = [head, ...rows.map((r) => r.map(cell))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : (c ?? "").padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function cell(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  return String(value);
}

/**
 * A duration in ms, rounded up to the unit a person reads at a glance.
 *
 * @example
 * duration(90_000); // → "90 s"
 * duration(7_200_000); // → "2 h"
 */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.ceil(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.ceil(ms / 60_000)} min`;
  return `${Math.ceil(ms / 3_600_000)} h`;
}
