/** @module test/node/respond/problem — RFC 9457 bodies, headers, SluiceHttpError and toResponse. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import type { Decision } from "../../../src/limiter/types.ts";
import {
  badGateway,
  gatewayTimeout,
  notFound,
  policyInvalid,
  problem,
  SluiceHttpError,
  storeUnavailable,
  tooManyRequests,
  toResponse,
  unauthorized,
} from "../../../src/respond/problem.ts";

/** Every builder returns the exception; its response is what clients see. */
function res_(err: SluiceHttpError): Response {
  expect(err).toBeInstanceOf(SluiceHttpError);
  return err.res as Response;
}

async function read(res: Response) {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.status).toBe(res.status);
  return body;
}

const denied: Decision = {
  allowed: false,
  retryAfterMs: 4200,
  limits: [
    {
      id: "burst",
      count: 10,
      periodMs: 1000,
      burst: 10,
      cost: 1,
      algorithm: "gcra",
      remaining: 0,
      resetMs: 4200,
      allowed: false,
    },
    {
      id: "hourly",
      count: 1000,
      periodMs: 3_600_000,
      burst: 1000,
      cost: 1,
      algorithm: "gcra",
      remaining: 900,
      resetMs: 60_000,
      allowed: true,
    },
  ],
};

describe("problem", () => {
  it("builds an RFC 9457 body in member order with extensions", async () => {
    const res = problem(
      418 as 400,
      { type: "https://x.test/p", title: "T", detail: "D", extra: [1, 2] },
      { "x-test": "1" },
    );
    expect(res.status).toBe(418);
    expect(res.headers.get("x-test")).toBe("1");
    expect(await res.text()).toBe(
      '{"type":"https://x.test/p","title":"T","status":418,"detail":"D","extra":[1,2]}',
    );
  });

  it("keeps status consistent with the response even if fields try to override it", async () => {
    const res = problem(400, {
      type: "about:blank",
      title: "Bad Request",
      detail: "x",
      status: 200,
    });
    expect(await read(res)).toEqual({
      type: "about:blank",
      title: "Bad Request",
      status: 400,
      detail: "x",
    });
  });

  it("overrides a caller's content-type and cache-control", () => {
    const res = problem(
      400,
      { type: "about:blank", title: "Bad Request", detail: "x" },
      { "content-type": "text/html", "cache-control": "max-age=60" },
    );
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("JSON-encodes hostile text instead of splicing it in", async () => {
    const hostile = '"},"injected":true,"x":"<script>';
    const res = problem(400, { type: "about:blank", title: "Bad Request", detail: hostile });
    const body = await read(res);
    expect(body.detail).toBe(hostile);
    expect(body).not.toHaveProperty("injected");
  });
});

describe("tooManyRequests", () => {
  it("answers 429 with Retry-After and the rule, rounded up", async () => {
    const res = res_(tooManyRequests({ rule: "login", retryAfterMs: 4200, decision: denied }));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await read(res)).toEqual({
      type: "https://sluice.dev/problems/rate-limited",
      title: "Too Many Requests",
      status: 429,
      detail: 'Too many requests for rule "login"; retry in 5 seconds.',
      rule: "login",
      retryAfter: 5,
      "violated-policies": ["burst"],
    });
  });

  it("says '1 second' and never 0", async () => {
    const res = res_(tooManyRequests({ rule: "api", retryAfterMs: 0 }));
    expect(res.headers.get("retry-after")).toBe("1");
    const body = await read(res);
    expect(body.retryAfter).toBe(1);
    expect(body.detail).toBe('Too many requests for rule "api"; retry in 1 second.');
    expect(body["violated-policies"]).toEqual([]);
  });

  it("leaves the RateLimit fields to the caller", () => {
    const res = res_(tooManyRequests({ rule: "login", retryAfterMs: 1000, decision: denied }));
    expect(res.headers.get("ratelimit")).toBeNull();
    expect(res.headers.get("ratelimit-policy")).toBeNull();
  });
});

describe("other builders", () => {
  it("unauthorized: 401 with a Bearer challenge", async () => {
    const res = res_(unauthorized("An API key is required."));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="sluice"');
    expect(await read(res)).toMatchObject({
      type: "https://sluice.dev/problems/unauthorized",
      title: "Unauthorized",
      detail: "An API key is required.",
    });
    expect(res_(unauthorized("x", 'a"b')).headers.get("www-authenticate")).toBe(
      'Bearer realm="a\\"b"',
    );
  });

  it("storeUnavailable: 503 with Retry-After 1", async () => {
    const res = res_(storeUnavailable("api"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await read(res)).toMatchObject({
      type: "https://sluice.dev/problems/store-unavailable",
      title: "Service Unavailable",
      rule: "api",
      retryAfter: 1,
    });
  });

  it.each([
    [badGateway, 502, "origin-unreachable", "Bad Gateway"],
    [gatewayTimeout, 504, "origin-timeout", "Gateway Timeout"],
  ] as const)("%o → %i", async (build, status, slug, title) => {
    const res = res_(build("The origin did something."));
    expect(res.status).toBe(status);
    expect(await read(res)).toEqual({
      type: `https://sluice.dev/problems/${slug}`,
      title,
      status,
      detail: "The origin did something.",
    });
  });

  it("policyInvalid: 500 naming every offending path", async () => {
    const lines = [
      "rules[1].limits[0].rate: ERR_SLUICE_RATE invalid",
      "identity.ip.ipv6Subnet: ERR_SLUICE_SUBNET out of range",
    ];
    const res = res_(policyInvalid(lines));
    expect(res.status).toBe(500);
    const body = await read(res);
    expect(body.type).toBe("https://sluice.dev/problems/policy-invalid");
    expect(body.errors).toEqual(lines);
    expect(body.detail).toContain("rules[1].limits[0].rate");
    expect(body.detail).toContain("identity.ip.ipv6Subnet");
  });

  it("policyInvalid: caps the list at 20 lines", async () => {
    const lines = Array.from({ length: 25 }, (_, i) => `rules[${i}].name: bad`);
    const body = await read(res_(policyInvalid(lines)));
    expect(body.errors).toHaveLength(20);
    expect(body.detail).toMatch(/and 5 more\.$/);
  });

  it("notFound: 404", async () => {
    const res = res_(notFound());
    expect(res.status).toBe(404);
    expect(await read(res)).toMatchObject({ type: "about:blank", title: "Not Found" });
  });
});

describe("SluiceHttpError and toResponse", () => {
  it("is an HTTPException carrying its response", () => {
    const res = problem(404, { type: "about:blank", title: "Not Found", detail: "x" });
    const err = new SluiceHttpError(res);
    expect(err).toBeInstanceOf(HTTPException);
    expect(err.status).toBe(404);
    expect(err.name).toBe("SluiceHttpError");
    expect(err.message).toBe("404 Not Found");
    expect(err.res).toBe(res);
  });

  it("toResponse returns the carried response with its headers", async () => {
    const res = toResponse(storeUnavailable("api"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await read(res)).rule).toBe("api");
  });

  it("toResponse keeps a plain HTTPException's own response", async () => {
    const own = new Response("nope", { status: 401, headers: { "www-authenticate": "Basic" } });
    const res = toResponse(new HTTPException(401, { res: own }));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Basic");
  });

  it("toResponse turns a bare HTTPException into a problem without echoing its message", async () => {
    const res = toResponse(new HTTPException(413, { message: "secret <payload>" }));
    expect(res.status).toBe(413);
    const body = await read(res);
    expect(body).toMatchObject({ type: "about:blank", title: "Content Too Large" });
    expect(JSON.stringify(body)).not.toContain("secret");
  });

  it("toResponse hides unknown errors behind a generic 500", async () => {
    const res = toResponse(new Error("db password is hunter2"));
    expect(res.status).toBe(500);
    const body = await read(res);
    expect(body.title).toBe("Internal Server Error");
    expect(JSON.stringify(body)).not.toContain("hunter2");
  });

  it("works as the single app.onError", async () => {
    const app = new Hono();
    app.get("/limited", () => {
      throw tooManyRequests({ rule: "login", retryAfterMs: 2500 });
    });
    app.get("/boom", () => {
      throw new Error("boom");
    });
    app.onError((err) => toResponse(err));

    const limited = await app.request("/limited");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect((await read(limited)).rule).toBe("login");

    const boom = await app.request("/boom");
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain("boom");
  });
});
