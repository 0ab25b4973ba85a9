/**
 * @module test/workerd/fuzz — generated requests through the gateway in workerd.
 *
 * At least 10,000 requests (paths, methods, header names and values, client
 * addresses, keys and bodies) go through the gateway on the Durable Object
 * store to the echo origin, in concurrent batches. Each must be answered: no
 * 500, no uncaught exception, within the store and origin budgets, with no
 * client copy of a managed header or an issued secret reaching the origin;
 * and every spelling of a limited route meets that route's rule, or a 400.
 *
 * Seeded: a failure prints its seed; `SLUICE_FUZZ_SEED=<seed> npx vitest run
 * --project workerd test/workerd/fuzz.test.ts` replays it.
 */

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalPath } from "../../src/identity/canonical.ts";
import { MAX_WAIT_BUDGETS } from "../../src/stores/budget.ts";
import type { EchoReply } from "../../tools/echo-origin.ts";
import { gateway, randomKey, type TestGateway } from "./helpers.ts";

const SEED = env.TEST_FUZZ_SEED
  ? Number(env.TEST_FUZZ_SEED)
  : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
const BATCHES = 400;
const BATCH = 25;
const STORE_BUDGET_MS = 250;
const ORIGIN_BUDGET_MS = 5000;
/** A budget may stretch while the isolate is busy (stores/budget.ts), plus the origin's, plus slack. */
const ANSWER_WITHIN_MS = STORE_BUDGET_MS * MAX_WAIT_BUDGETS + ORIGIN_BUDGET_MS + 2000;
const TOKEN = "admin-token-for-fuzz-tests-0123456789";
const SPOOF = "fz-spoof-value";

const POLICY = {
  store: { timeoutMs: STORE_BUDGET_MS },
  origin: { timeoutMs: ORIGIN_BUDGET_MS },
  plans: { pro: "1000/s" },
  tenants: { authFailures: "1000/min" },
  rules: [
    {
      name: "login",
      match: { path: "/login", methods: ["POST"] },
      limits: [{ rate: "5/min", by: "ip", name: "login-ip" }],
      countRejected: true,
    },
    {
      name: "api",
      match: { path: "/api/*" },
      limits: [
        { rate: "plan", by: "tenant" },
        { rate: "1000/s", by: "ip", name: "api-ip" },
      ],
    },
    {
      name: "users",
      match: { path: "/users/:id", methods: ["GET"] },
      limits: [{ rate: "1000/s", by: "ip", name: "users-ip" }],
    },
    {
      name: "default",
      match: { path: "*" },
      limits: [{ rate: "1000/s", by: "ip", name: "any-ip" }],
    },
  ],
};

/** Header names Sluice manages, in spellings a server reads as them. */
const MANAGED = [
  "X_Sluice_Tenant",
  "x-sluice-tenant",
  "X.Sluice.Tenant",
  "X-Forwarded-For",
  "x_forwarded_host",
  "X-Forwarded-Port",
  "Forwarded",
  "X-Real-IP",
  "x_real_ip",
  "True-Client-IP",
  "X-Client-IP",
  "X-Original-URL",
  "X_Rewrite_URL",
  "CF_Connecting_IP",
];

// ---- generators -----------------------------------------------------------

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/);
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
const ip = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((a) => `::ffff:${a}`),
  fc.constantFrom(
    "",
    "not-an-ip",
    "1.2.3.4:80",
    "010.0.0.1",
    "[::1]",
    "fe80::1%eth0",
    "203.0.113.7, 6.6.6.6",
  ),
);
// workerd knows a fixed set of methods (kj's HttpMethod) and refuses others before the Worker runs.
const method = fc
  .constantFrom(
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "PROPFIND",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "REPORT",
    "SEARCH",
    "PURGE",
  )
  .chain((m) => fc.constantFrom(m, m.toLowerCase()));
const piece = fc.oneof(
  fc.constantFrom(
    "api",
    "API",
    "login",
    "users",
    "42",
    "x",
    "..",
    ".",
    "%2e",
    "%2F",
    "%5C",
    "%00",
    "%zz",
    "%C0%AF",
    "%E2%80%8B",
    "%EF%BC%A1",
    ";p=1",
    "%3B",
    "%25",
    "%2561",
    "~",
    "é",
    " ",
    "\\",
    "",
    "data",
  ),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/),
);
const randomPath = fc
  .array(fc.array(piece, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 })
  .map((segs) => `/${segs.map((s) => s.join("")).join("/")}`);

/** A route Sluice limits, and ways of spelling it that some origin routes to the same handler. */
const ROUTES = [
  { rule: "login", method: "POST", segments: ["login"] },
  { rule: "api", method: "GET", segments: ["api", "data"] },
  { rule: "users", method: "GET", segments: ["users", "42"] },
] as const;
const FULLWIDTH: Record<string, string> = {
  a: "%EF%BD%81",
  i: "%EF%BD%89",
  l: "%EF%BD%8C",
  s: "%EF%BD%93",
};
const respell = fc.constantFrom(
  (s: string) => s.toUpperCase(),
  (s: string) => s[0]?.toUpperCase() + s.slice(1),
  (s: string) => `${s};jsessionid=1`,
  (s: string) => `${s}.`,
  (s: string) => `${s}%2e`,
  (s: string) => `${s}%20`,
  (s: string) => s.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`),
  (s: string) => s.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  (s: string) => s.replace(/[alis]/, (c) => FULLWIDTH[c] ?? c),
  (s: string) => `x/../${s}`,
  (s: string) => `x/%2e%2e/${s}`,
  (s: string) => `./${s}`,
  (s: string) => `/${s}`,
  (s: string) => s,
);
const join = fc.constantFrom("/", "/", "//", "\\", "%2F", "/.;/");
const spelled = fc
  .record({
    route: fc.constantFrom(...ROUTES),
    spellings: fc.array(respell, { minLength: 2, maxLength: 2 }),
    join,
    trailing: fc.constantFrom("", "", "/", "%00", "%C0%AF"),
  })
  .map(({ route, spellings, join, trailing }) => {
    const [first, spelledSecond] = route.segments.map((seg, i) =>
      (spellings[i] ?? ((x: string) => x))(seg),
    );
    // After an encoded slash, "x/../" would remove the first segment with it: another route.
    const second =
      join === "%2F" && spelledSecond?.includes("/") ? route.segments[1] : spelledSecond;
    const rest = second === undefined ? "" : `${join}${second}`;
    return { route, path: `/${first}${rest}${trailing}` };
  });

const key = (secret: string) =>
  fc
    .constantFrom<[string, string][]>(
      [],
      [["x-api-key", secret]],
      [["authorization", `Bearer ${secret}`]],
      [["x-api-key", "x0"]],
      [["X_API_Key", secret]],
    )
    .chain((fixed) =>
      fc.oneof(
        fc.constant(fixed),
        fc.constant([["x-api-key", randomKey()]] as [string, string][]),
        headerValue.map((v) => [["x-api-key", v]] as [string, string][]),
      ),
    );

interface Case {
  kind: "spelled" | "random";
  expect?: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: Uint8Array;
}

function request(secret: string): fc.Arbitrary<Case> {
  const extra = fc.array(
    fc.oneof(
      fc.tuple(token, headerValue),
      fc.tuple(fc.constantFrom(...MANAGED), fc.constant(SPOOF)),
    ),
    { maxLength: 6 },
  );
  const body = fc.option(fc.uint8Array({ maxLength: 2048 }), { nil: undefined });
  const spelledCase = fc.record({ s: spelled, keys: key(secret), extra, body }).map(
    ({ s, keys, extra, body }): Case => ({
      kind: "spelled",
      expect: s.route.rule,
      method: s.route.method,
      path: s.path,
      headers: [...extra, ...keys],
      ...(body && s.route.method !== "GET" ? { body } : {}),
    }),
  );
  const randomCase = fc
    .record({ path: randomPath, method, ip, keys: key(secret), extra, body })
    .map(
      ({ path, method, ip, keys, extra, body }): Case => ({
        kind: "random",
        method,
        path,
        headers: [...extra, ...keys, ["cf-connecting-ip", ip]],
        // Fetch forbids a body on GET and HEAD.
        ...(body && !/^(get|head)$/i.test(method) ? { body } : {}),
      }),
    );
  return fc.oneof(spelledCase, randomCase);
}

// ---- the property -----------------------------------------------------------

let gw: TestGateway;
let secret = "";
let requests = 0;
let nextIp = 0;
/** Cases the runtime refused to build: a few, to say why if there are too many. */
const refused: string[] = [];

/** A fresh IPv4 address per spelled request, so its decision line is its own. */
function uniqueIp(): string {
  nextIp++;
  return `10.${(nextIp >> 16) & 255}.${(nextIp >> 8) & 255}.${nextIp & 255}`;
}

async function send(c: Case): Promise<void> {
  const headers = new Headers();
  let init: RequestInit;
  let req: Request;
  try {
    for (const [name, value] of c.headers) headers.append(name, value);
    const ip = c.kind === "spelled" ? uniqueIp() : undefined;
    if (ip) headers.set("cf-connecting-ip", ip);
    init = { method: c.method, headers, ...(c.body ? { body: c.body } : {}) };
    req = new Request(`https://gateway.test${c.path}`, init);
  } catch (e) {
    if (refused.length < 5) refused.push(`${c.method} ${JSON.stringify(c.path)}: ${e}`);
    return; // The runtime refuses it before any Worker code runs.
  }
  requests++;
  const started = Date.now();
  const res = await gw.fetch(c.path, { ...init, ip: headers.get("cf-connecting-ip") ?? "" });
  const text = req.method === "HEAD" ? "" : await res.text();
  const elapsed = Date.now() - started;
  const where = `${c.method} ${JSON.stringify(c.path)} → ${res.status}`;
  expect(res.status, where).not.toBe(500);
  expect(elapsed, `${where} took ${elapsed} ms`).toBeLessThan(ANSWER_WITHIN_MS);
  if (res.status >= 500) {
    expect([502, 503, 504], where).toContain(res.status);
    expect(res.headers.get("content-type"), where).toBe("application/problem+json");
  }
  const fromOrigin = res.headers.get("x-origin") === "echo";
  if (fromOrigin && text) {
    const echo = JSON.parse(text) as EchoReply;
    const seen = JSON.stringify(echo.headers);
    expect(seen, `${where}: a managed header reached the origin`).not.toContain(SPOOF);
    expect(seen, `${where}: the issued key reached the origin`).not.toContain(secret);
    const canonical = canonicalPath(new URL(req.url).pathname);
    expect("path" in canonical && echo.path, where).toBe("path" in canonical && canonical.path);
  }
  if (c.kind === "spelled" && res.status !== 400) {
    const ipKey = headers.get("cf-connecting-ip");
    const event = gw.events.find((e) => e.ipKey === ipKey);
    expect(event?.rule, `${where}: the spelling skipped the ${c.expect} rule`).toBe(c.expect);
  }
}

describe(`fuzzing the gateway (seed ${SEED})`, () => {
  beforeAll(async () => {
    gw = gateway("durable-object", POLICY, { SLUICE_ADMIN_TOKEN: TOKEN });
    const admin = (path: string, body: unknown) =>
      gw.fetch(`/__sluice/admin${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await admin("/tenants", { id: "acme", plan: "pro" })).status).toBe(201);
    secret = ((await (await admin("/keys", { tenant: "acme" })).json()) as { secret: string })
      .secret;
  });

  it(`answers ${BATCHES * BATCH} generated requests: no 500, within budget, nothing leaked or skipped`, async () => {
    const batch = fc.array(request(secret), { minLength: BATCH, maxLength: BATCH });
    try {
      await fc.assert(
        fc.asyncProperty(batch, async (cases) => {
          gw.events.length = 0;
          await Promise.all(cases.map(send));
        }),
        { seed: SEED, numRuns: BATCHES, endOnFailure: true },
      );
    } catch (err) {
      throw new Error(
        `fuzz failed; replay with SLUICE_FUZZ_SEED=${SEED}\n${err instanceof Error ? `${err.message}\n${err.cause}` : err}`,
      );
    }
    expect(requests, refused.join("\n")).toBeGreaterThanOrEqual(BATCHES * BATCH * 0.95);
  }, 300_000);
});
