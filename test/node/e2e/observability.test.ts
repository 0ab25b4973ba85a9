/** @module test/node/e2e/observability — the gateway under `wrangler dev` (tools/dev.ts): spans to a local OTLP/HTTP receiver, and the dashboard in a real headless Chromium. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.ts";

const TOKEN = "observability-e2e-token-0123456789abcdef";
const POLICY = {
  plans: { free: "5/min; 8/day", pro: "100/min" },
  tenants: {},
  rules: [
    { name: "login", match: { path: "/login", methods: ["POST"] }, limits: [{ rate: "2/min" }] },
    { name: "api", match: { path: "/api/*" }, limits: [{ rate: "plan", by: "tenant" }] },
  ],
};

interface ExportRequest {
  resourceSpans: Array<{
    resource: { attributes: Attr[] };
    scopeSpans: Array<{ scope: { name: string }; spans: Span[] }>;
  }>;
}
interface Attr {
  key: string;
  value: Record<string, unknown>;
}
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attr[];
}

const received: Array<{ contentType: string; key: string; body: ExportRequest }> = [];
let receiver: ReturnType<typeof createServer>;
let stack: Stack | undefined;
/** Where the dashboard's screenshot goes unless SLUICE_SCREENSHOT says. */
let state: string;
let url: string;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

beforeAll(async () => {
  // A stand-in OTLP/HTTP collector: decodes each export as the JSON encoding says.
  receiver = createServer(async (req, res) => {
    const text = await readBody(req);
    if (req.method === "POST" && req.url === "/v1/traces") {
      received.push({
        contentType: req.headers["content-type"] ?? "",
        key: String(req.headers["x-collector-key"]),
        body: JSON.parse(text),
      });
    }
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
  state = mkdtempSync(path.join(tmpdir(), "sluice-observe-"));
  stack = await startStack("durable-object", POLICY, {
    SLUICE_ADMIN_TOKEN: TOKEN,
    SLUICE_OTLP_ENDPOINT: otlp,
    SLUICE_OTLP_HEADERS: "x-collector-key=abc%20def",
  });
  url = stack.url;
}, 70_000);

afterAll(async () => {
  await stack?.stop();
  receiver?.close();
  rmSync(state, { recursive: true, force: true });
}, 20_000);

function spans(): Span[] {
  return received.flatMap((r) =>
    r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)),
  );
}

function attr(span: Span | undefined, key: string): unknown {
  const value = span?.attributes.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
}

async function until<T>(what: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = what();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("OTLP/HTTP span export", () => {
  it("sends one span per request with the decision as attributes, in the caller's trace", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const parent = "b7ad6b7169203331";
    const login = () =>
      fetch(`${url}/login`, {
        method: "POST",
        headers: { traceparent: `00-${traceId}-${parent}-01` },
      });
    expect((await login()).status).toBe(200);
    const first = await until(() => spans().find((s) => s.traceId === traceId));
    expect(received[0]).toMatchObject({ contentType: "application/json", key: "abc def" });
    expect(first).toMatchObject({ parentSpanId: parent, name: "POST login", kind: 2 });
    expect(first.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(BigInt(first.endTimeUnixNano) >= BigInt(first.startTimeUnixNano)).toBe(true);
    expect(attr(first, "sluice.outcome")).toBe("allowed");
    expect(attr(first, "sluice.rule")).toBe("login");
    expect(attr(first, "sluice.policy.hash")).toMatch(/^[0-9a-f]{64}$/);
    expect(attr(first, "sluice.remaining")).toBe("1");
    expect(attr(first, "http.response.status_code")).toBe("200");
    const service = received[0]?.body.resourceSpans[0]?.resource.attributes[0];
    expect(service).toEqual({ key: "service.name", value: { stringValue: "sluice" } });

    // Batched: these wait for the next send, at most every 2 s.
    await login();
    expect((await login()).status).toBe(429);
    await new Promise((r) => setTimeout(r, 2100));
    await login();
    const denied = await until(() =>
      spans().find((s) => s.traceId === traceId && attr(s, "sluice.outcome") === "denied"),
    );
    expect(attr(denied, "sluice.limits")).toEqual({ values: [{ stringValue: "ip-1m" }] });
    expect(attr(denied, "http.response.status_code")).toBe("429");
  }, 30_000);
});

/** Chromium as Debian ships it, headless, with nothing reaching beyond this machine. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

async function admin(pathname: string, body: unknown): Promise<{ key?: unknown; secret?: string }> {
  const res = await fetch(`${url}/__sluice/admin${pathname}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as { secret?: string };
}

describe("the dashboard in a real browser", () => {
  it("signs in with the token in a form, sets a locked-down cookie, and shows the traffic's numbers", async () => {
    await admin("/tenants", { id: "acme", plan: "free" });
    await admin("/tenants", { id: "beta", plan: "pro" });
    const acme = (await admin("/keys", { tenant: "acme" })).secret ?? "";
    const beta = (await admin("/keys", { tenant: "beta" })).secret ?? "";
    const call = async (key: string) => {
      const res = await fetch(`${url}/api/orders`, { headers: { "x-api-key": key } });
      await res.body?.cancel();
      return res.status;
    };
    const acmeStatuses: number[] = [];
    for (let i = 0; i < 7; i++) acmeStatuses.push(await call(acme));
    expect(acmeStatuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    for (let i = 0; i < 3; i++) expect(await call(beta)).toBe(200);

    // The dashboard's own address is "localhost": a Secure cookie is kept there over http.
    const base = url.replace("127.0.0.1", "localhost");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_FLAGS,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/__sluice/dashboard`);
      await page.fill("#token", "wrong-token-wrong-token-wrong-token");
      await page.click("button[type=submit]");
      await page.waitForSelector("text=That token is not valid.");
      await page.fill("#token", TOKEN);
      await page.click("button[type=submit]");
      expect(page.url()).toBe(`${base}/__sluice/dashboard`);
      const [cookie] = await page.context().cookies();
      expect(cookie).toMatchObject({
        name: "sluice_dashboard",
        httpOnly: true,
        secure: true,
        sameSite: "Strict",
        path: "/__sluice/dashboard",
      });
      expect(cookie?.value).not.toContain(TOKEN);

      const row = (rule: string, outcome: string) =>
        page
          .locator("#requests tr", { hasText: new RegExp(`^${rule}${outcome}`) })
          .locator("td")
          .nth(2);
      await page.waitForSelector("#requests td");
      await expect.poll(() => row("api", "allowed").textContent(), { timeout: 10_000 }).toBe("8");
      expect(await row("api", "denied").textContent()).toBe("2");
      const limited = await page
        .locator("#limited tr", { hasText: "tenant:acme" })
        .locator("td")
        .allTextContents();
      expect(limited).toEqual(["api", "tenant:acme", "2"]);
      const quotas = await page.locator("#quotas tr").allTextContents();
      expect(quotas[1]).toContain("acme");
      expect(quotas[1]).toContain("tenant-1m");
      expect(quotas[1]).toContain("100%");
      expect(quotas.some((q) => q.includes("tenant-1d") && q.includes("63%"))).toBe(true);
      expect(await page.locator("#stores tr").nth(1).textContent()).toContain("durable-object");
      expect(await page.locator("#bans").textContent()).toMatch(/not available|none|\[/);
      // Rates need two polls; the page polls every 3 s.
      await expect
        .poll(() => row("api", "allowed").locator("xpath=..").locator("td").nth(3).textContent(), {
          timeout: 10_000,
        })
        .toMatch(/^\d+\.\d\d$/);
      const shot = process.env.SLUICE_SCREENSHOT ?? path.join(state, "dashboard.png");
      await page.screenshot({ path: shot, fullPage: true });

      // Without the cookie the data route refuses, and the token never appears in a URL.
      const anonymous = await fetch(`${url}/__sluice/dashboard/data`);
      expect(anonymous.status).toBe(401);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
