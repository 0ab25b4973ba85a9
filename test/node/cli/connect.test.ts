/** @module test/node/cli/connect — where the token goes: --url with a path, plain http only to this machine, no redirects. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminBase, isLoopback } from "../../../src/cli/connect.ts";
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

describe("plain http only to this machine (S1)", () => {
  const env = { SLUICE_ADMIN_TOKEN: "t" };

  it("refuses http:// to another host in one line, sending nothing", async () => {
    const calls: string[] = [];
    const r = await sluice(["tenants", "list", "--url", "http://gateway.example:8787"], env, {
      fetch: recordingFetch(calls),
    });
    expect(r).toEqual({
      code: 2,
      out: "",
      err: "sluice: refusing to send the admin token over plain http to gateway.example:8787, which is not this machine; use https://, or pass --insecure (or set SLUICE_INSECURE=1) on a network you trust",
    });
    expect(calls).toEqual([]);
    const json = await sluice(["tenants", "list", "--json"], {
      ...env,
      SLUICE_URL: "http://10.0.0.5",
    });
    expect(JSON.parse(json.err).error).toMatchObject({ kind: "usage", flag: "--url" });
  });

  it("sends it with --insecure or SLUICE_INSECURE=1, and always over https", async () => {
    const calls: string[] = [];
    const fetch = recordingFetch(calls);
    const url = "http://gateway.example:8787/";
    expect(
      (await sluice(["tenants", "list", "--url", url, "--insecure"], env, { fetch })).code,
    ).toBe(0);
    expect(
      (
        await sluice(
          ["tenants", "list"],
          { ...env, SLUICE_URL: url, SLUICE_INSECURE: "1" },
          { fetch },
        )
      ).code,
    ).toBe(0);
    const secure = "https://gateway.example/";
    expect((await sluice(["tenants", "list", "--url", secure], env, { fetch })).code).toBe(0);
    expect(calls.map((c) => c.split(" ")[0])).toEqual([
      "http://gateway.example:8787/__sluice/admin/tenants",
      "http://gateway.example:8787/__sluice/admin/tenants",
      "https://gateway.example/__sluice/admin/tenants",
    ]);
  });

  it("counts only loopback addresses and localhost as this machine", () => {
    for (const host of ["127.0.0.1", "127.8.9.10", "[::1]", "localhost", "[::ffff:7f00:1]"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of [
      "10.0.0.5",
      "128.0.0.1",
      "[::2]",
      "localhost.example",
      "example.com",
      "[fe80::1]",
    ]) {
      expect(isLoopback(host), host).toBe(false);
    }
    // The URL parser normalises other spellings of 127.0.0.1 before the check.
    expect(isLoopback(new URL("http://127.1:8787").hostname)).toBe(true);
    expect(isLoopback(new URL("http://0x7f000001/").hostname)).toBe(true);
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
