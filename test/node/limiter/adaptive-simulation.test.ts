/** @module test/node/limiter/adaptive-simulation — the adaptive controller follows an origin's capacity, in the deterministic simulation of `bench/adaptive.ts`. */
import { describe, expect, it } from "vitest";
import { assess, renderSvg, SCENARIO, type Second, simulate } from "../../../bench/adaptive.ts";

// Simulated time only: the whole run is one synchronous loop over a 1 ms clock.
const series: Second[] = simulate({ ...SCENARIO, seed: 1 });
const [start, drop, recovery] = assess(series);

describe("adaptive simulation (1000 → 400 → 1000 req/s behind a 1000/s rule)", () => {
  it("splits at the capacity changes", () => {
    expect(series).toHaveLength(240);
    expect([start, drop, recovery].map((s) => [s?.fromS, s?.capacity])).toEqual([
      [0, 1000],
      [60, 400],
      [150, 1000],
    ]);
  });

  it("converges to within ±10 % of the capacity within 30 s of a drop", () => {
    expect(start?.convergedAfterS).toBeLessThanOrEqual(30);
    expect(drop?.convergedAfterS).toBeLessThanOrEqual(30);
  });

  it("swings less than ±15 % once converged", () => {
    for (const s of [start, drop, recovery]) expect(s?.swing).toBeLessThan(0.15);
  });

  it("is back to the full rate within 60 s of the origin recovering", () => {
    expect(recovery?.convergedAfterS).toBeLessThanOrEqual(60);
    expect(series.at(-1)?.admitted).toBeGreaterThanOrEqual(900);
  });

  it("is deterministic for a seed", () => {
    const short = { ...SCENARIO, durationS: 70, seed: 3 };
    expect(simulate(short)).toEqual(simulate(short));
  });

  it("renders the series as an SVG with capacity, demand, admitted and factor lines", () => {
    const svg = renderSvg(series);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(4);
  });
});
