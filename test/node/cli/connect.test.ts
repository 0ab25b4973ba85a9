/** @module test/node/cli/connect — where the token goes: --url with a path, no redirects. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminBase } from "../../../src/cli/connect.ts";
import { type FakeAdmin, fakeAdmin, sluice } from "./helpers.ts";

let admin: FakeAdmin;
beforeAll(async () => {
  admin = await fakeAdmin((method, path) =>
    method === "GET" && path.endsWith("/__sluice/admin/tenants")
      ? { json: { tenants: [] } }
      : undefined,
  );
});
afterAll(() => admin.close());

/** A fetch that records where it was asked to go and answers an empty tenant list. */
function recordingFetch(calls: string[], answer = () => Response.json({ tenants: [] })) {
  return (async (url: URL | RequestInfo, init?: RequestInit) => {
    calls.push(`${String(url)} redirect=${init?.redirect}`);
    return answer();
  }) as typeof fetch;
}

describe("--url with a path", () => {
  it("keeps the path as a prefix in front of /__sluice/admin/", async () => {
    for (const prefix of ["/edge", "/edge/", "/a/b"]) {
      admin.seen.length = 0;
      const r = await sluice(["tenants", "list", "--url", `${admin.url}${prefix}`], {
        SLUICE_ADMIN_TOKEN: "t",
      });
      expect(r).toMatchObject({ code: 0 });
      expect(admin.seen.map((s) => s.path)).toEqual([
        `${prefix.replace(/\/$/, "")}/__sluice/admin/tenants`,
      ]);
    }
  });

  it("builds the admin base from the gateway URL", () => {
    expect(adminBase("http://127.0.0.1:8787").href).toBe("http://127.0.0.1:8787/__sluice/admin/");
    expect(adminBase("https://api.example.com/edge").href).toBe(
      "https://api.example.com/edge/__sluice/admin/",
    );
  });

  it.each([
    ["not a url", '--url "not a url" is not a URL like http://127.0.0.1:8787'],
    ["ftp://127.0.0.1/", "--url must be http or https, got ftp:"],
    ["http://127.0.0.1:8787/?x=1", "--url must not carry a query or fragment"],
    ["http://me:pw@127.0.0.1:8787/", "--url must not carry a user or password"],
    [
      "http://127.0.0.1:8787/__sluice/admin",
      "--url names the gateway, not its admin API: drop the /__sluice/… part",
    ],
  ])("refuses %s with a usage error", async (url, message) => {
    const calls: string[] = [];
    const r = await sluice(
      ["tenants", "list", "--url", url],
      { SLUICE_ADMIN_TOKEN: "t" },
      {
        fetch: recordingFetch(calls),
      },
    );
    expect(r).toEqual({ code: 2, out: "", err: `sluice: ${message}` });
    expect(calls).toEqual([]);
  });
});

describe("redirects", () => {
  it("never follows a redirect with the token", async () => {
    const calls: string[] = [];
    const moved = () =>
      new Response(null, { status: 302, headers: { location: "https://elsewhere.example/" } });
    const r = await sluice(
      ["tenants", "list"],
      { SLUICE_ADMIN_TOKEN: "t" },
      {
        fetch: recordingFetch(calls, moved),
      },
    );
    expect(calls).toEqual(["http://127.0.0.1:8787/__sluice/admin/tenants redirect=manual"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("unexpected 302 answer");
    expect(r.err).toContain("redirect to https://elsewhere.example/, not followed");
  });
});
