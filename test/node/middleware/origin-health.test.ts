/** @module test/node/middleware/origin-health — an isolate's tally of the origin for an adaptive rule: in-flight slowness, push-back, pauses, nothing lost. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultAdaptiveConfig } from "../../../src/limiter/adaptive.ts";
import { OriginHealth, retryAfterMs } from "../../../src/middleware/rate-limit/adaptive.ts";
import type { Rule } from "../../../src/policy/types.ts";

const T = 1_780_000_000_000;

function health(latencyMs = 1000): OriginHealth {
  const rule = {
    name: "api",
    adaptive: { ...defaultAdaptiveConfig, latencyMs },
  } as Rule & { adaptive: NonNullable<Rule["adaptive"]> };
  return new OriginHealth("p", rule);
}

const answer = (status: number, headers: Record<string, string> = {}) =>
  new Response(null, { status, headers });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("an adaptive rule's origin health", () => {
  it("names the rule's controller key and starts from nothing", () => {
    const spec = health().take();
    expect(spec.key).toBe("p:api:~adaptive:-");
    expect(spec.report).toEqual({ requests: 0, errors: 0, slow: 0, overloaded: 0, pauseMs: 0 });
  });

  it("reports a request still in flight at the latency as slow then, and counts it once", () => {
    const h = health(1000);
    const answered = h.watch();
    vi.advanceTimersByTime(999);
    expect(h.take().report.requests).toBe(0);
    vi.advanceTimersByTime(1);
    expect(h.take().report).toMatchObject({ requests: 1, slow: 1, errors: 0 });
    // Its answer, a 500, adds the error but not a second request.
    answered(answer(500), T);
    expect(h.take().report).toMatchObject({ requests: 0, slow: 0, errors: 1 });
  });

  it("counts a fast answer once, not slow, and stops its timer", () => {
    const h = health(1000);
    const answered = h.watch();
    vi.advanceTimersByTime(10);
    answered(answer(200), T);
    vi.advanceTimersByTime(5000);
    expect(h.take().report).toEqual({ requests: 1, errors: 0, slow: 0, overloaded: 0, pauseMs: 0 });
  });

  it("takes 503 and 429 as push-back, a failed forward as an error, and keeps the longest pause", () => {
    const h = health();
    h.watch()(answer(503, { "retry-after": "30" }), T);
    h.watch()(answer(503, { "retry-after": "5" }), T);
    h.watch()(answer(429, { "retry-after": "600" }), T);
    h.watch()(undefined, T);
    expect(h.take().report).toEqual({
      requests: 4,
      errors: 3,
      slow: 0,
      overloaded: 3,
      pauseMs: 30_000,
    });
  });

  it("puts back a tally the store never got, added to what came since", () => {
    const h = health();
    h.watch()(answer(500), T);
    const lost = h.take().report;
    h.watch()(answer(503, { "retry-after": "2" }), T);
    h.restore(lost);
    expect(h.take().report).toEqual({
      requests: 2,
      errors: 2,
      slow: 0,
      overloaded: 1,
      pauseMs: 2000,
    });
  });
});

describe("Retry-After", () => {
  it("reads delay-seconds and HTTP-dates, and nothing else", () => {
    expect(retryAfterMs("120", T)).toBe(120_000);
    expect(retryAfterMs(" 0 ", T)).toBe(0);
    expect(retryAfterMs(new Date(T + 42_000).toUTCString(), T)).toBe(42_000);
    expect(retryAfterMs(new Date(T - 42_000).toUTCString(), T)).toBe(0);
    expect(retryAfterMs("-5", T)).toBe(0);
    expect(retryAfterMs("soon", T)).toBe(0);
    expect(retryAfterMs(null, T)).toBe(0);
  });
});
