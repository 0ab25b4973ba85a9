/** @module test/workerd/canonical-path — through the gateway: every spelling of a path meets its rule, or a 400, and the origin gets the canonical path. */
import { describe, expect, it } from "vitest";
import type { EchoReply as Echo } from "../../tools/echo-origin.ts";
import { gateway } from "./helpers.ts";

const POLICY = {
  rules: [
    {
      name: "login",
      match: { path: "/login", methods: ["POST"] },
      limits: [{ rate: "5/min", by: "ip", name: "login-ip" }],
      countRejected: true,
    },
    { name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s", by: "apiKey" }] },
  ],
};

describe("spellings of a limited path", () => {
  it.each([
    ["/api/data", "/api/data"],
    ["/API/data", "/API/data"],
    ["/Api/Data", "/Api/Data"],
    ["/%61pi/data", "/api/data"],
    ["//api//data", "/api/data"],
    ["/x/../api/data", "/api/data"],
    ["/x/%2e%2e/api/data", "/api/data"],
    ["/./api/data", "/api/data"],
    ["/api;jsessionid=1/data", "/api;jsessionid=1/data"],
    ["/api%3Bx/data", "/api%3Bx/data"],
    ["/api./data", "/api./data"],
    ["/api%2e/data", "/api./data"],
    ["/api%20/data", "/api%20/data"],
    ["/%EF%BC%A1pi/data", "/%EF%BC%A1pi/data"],
    ["/api\\data", "/api/data"],
    ["/api/data/", "/api/data/"],
  ])("%j meets the api rule (401 without a key), and forwards as %j", async (path, forwarded) => {
    const gw = gateway("durable-object", POLICY);
    const refused = await gw.fetch(path);
    expect(refused.status).toBe(401);
    expect(gw.events[0]).toMatchObject({ rule: "api", outcome: "unauthorized" });
    const res = await gw.fetch(path, { headers: { "x-api-key": "k-1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toContain("apikey-1s");
    expect(((await res.json()) as Echo).path).toBe(forwarded);
    expect(gw.events.at(-1)?.path).toBe(forwarded);
  });

  it.each([
    "/login",
    "/LOGIN",
    "/Login",
    "/login;",
    "/login;jsessionid=x",
    "/login.",
    "/login%2e",
    "/login%20",
    "/login/",
    "//login",
    "/%6C%6F%67%69%6E",
  ])("POST %j counts against the login rule", async (path) => {
    const gw = gateway("durable-object", POLICY);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await gw.fetch(path, { method: "POST" });
      await res.body?.cancel();
      codes.push(res.status);
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("shares one bucket across spellings", async () => {
    const gw = gateway("durable-object", POLICY);
    const codes: number[] = [];
    for (const path of ["/login", "/LOGIN", "/login;x", "/login.", "/Login/", "/login"]) {
      const res = await gw.fetch(path, { method: "POST" });
      await res.body?.cancel();
      codes.push(res.status);
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it.each([
    "/api%2Fdata",
    "/api%2fdata",
    "/api%5Cdata",
    "/login%00",
    "/login%0a",
    "/login%09",
    "/api%C0%AFdata",
    "/%ED%A0%80",
    "/%FF",
    "/%2561pi/data",
    "/public/..;/api/data",
    "/api/.../data",
    "/api%zz",
    "/api%EF%BC%8Fdata",
  ])("%j is refused with 400 problem+json before any rule or origin", async (path) => {
    const gw = gateway("durable-object", POLICY);
    const res = await gw.fetch(path, { method: "POST" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({
      type: "https://sluice.dev/problems/path-not-canonical",
      status: 400,
    });
    expect(gw.events).toHaveLength(0);
  });
});

describe("the reserved prefix", () => {
  it.each(["/__SLUICE/health", "//__sluice/health", "/__sluice;x/health", "/__sluice%2Fhealth"])(
    "%j is never forwarded to the origin",
    async (path) => {
      const gw = gateway("durable-object", POLICY);
      const res = await gw.fetch(path);
      expect([400, 404]).toContain(res.status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.has("x-origin")).toBe(false);
    },
  );
});
