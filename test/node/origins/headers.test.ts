/**
 * @module test/node/origins/headers — managed headers against servers that read "_" as "-".
 *
 * forward() sends the request to a real WSGI server (wsgiref: CGI maps "-" and
 * "_" alike, so `X_Sluice_Tenant` reads as HTTP_X_SLUICE_TENANT) and to Node's
 * http server; neither may see a client's copy of a header Sluice manages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forward } from "../../../src/proxy/index.ts";
import { nodeOrigin, type Origin, rawRequest, wsgiOrigin } from "./origins.ts";

const SPOOFS: [string, string][] = [
  ["X_Sluice_Tenant", "victim"],
  ["x-sluice_tenant", "victim"],
  ["X.Sluice.Tenant", "victim"],
  ["x-sluice-tenant", "victim"],
  ["X_Forwarded_For", "6.6.6.6"],
  ["X-Forwarded-Port", "1"],
  ["X_Forwarded_Host", "evil.example"],
  ["Forwarded", "for=6.6.6.6;host=evil.example"],
  ["X-Real-IP", "6.6.6.6"],
  ["X_Real_IP", "6.6.6.6"],
  ["True-Client-IP", "6.6.6.6"],
  ["True_Client_IP", "6.6.6.6"],
  ["X-Client-IP", "6.6.6.6"],
  ["Client-IP", "6.6.6.6"],
  ["X-Cluster-Client-IP", "6.6.6.6"],
  ["CF_Connecting_IP", "6.6.6.6"],
  ["X-Original-URL", "/admin"],
  ["X_Original_URL", "/admin"],
  ["X-Rewrite-URL", "/admin"],
  ["X_API_Key", "sk_live_secret"],
  ["Keep_Alive", "timeout=5"],
  ["Proxy_Authorization", "Basic Zm9vOmJhcg=="],
];

/** What a CGI-style server would call each spoofed header. */
const cgiName = (name: string) => `HTTP_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;

describe("headers Sluice manages, as real servers read them", () => {
  let origins: Origin[] = [];
  let ports: Record<string, number> = {};
  beforeAll(async () => {
    origins = await Promise.all([nodeOrigin(), wsgiOrigin()]);
    ports = Object.fromEntries(origins.map((o) => [o.name, o.port]));
  });
  afterAll(async () => {
    await Promise.all(origins.map((o) => o.close()));
  });

  it("without Sluice, a WSGI app reads X_Sluice_Tenant as the tenant header (the audit's F2)", async () => {
    const wsgi = origins.find((o) => o.name === "wsgi");
    const seen = await wsgi?.see("/api/data", [["X_Sluice_Tenant", "victim"]]);
    expect(seen?.headers.HTTP_X_SLUICE_TENANT).toBe("victim");
  });

  it.each(["node", "wsgi"])("the %s origin sees none of a client's spellings", async (name) => {
    const origin = new URL(`http://127.0.0.1:${ports[name]}`);
    const req = new Request("https://gw.example/api/data", { headers: SPOOFS });
    const res = await forward(req, {
      origin,
      timeoutMs: 5000,
      forwardedFor: "203.0.113.7",
      appendForwardedFor: false,
      dropHeaders: ["x-sluice-tenant", "x-api-key"],
      setHeaders: { "x-sluice-tenant": "acme" },
    });
    const body = (await res.json()) as { headers: Record<string, string> };
    const seen = JSON.stringify(body.headers);
    expect(seen).not.toContain("victim");
    expect(seen).not.toContain("6.6.6.6");
    expect(seen).not.toContain("/admin");
    expect(seen).not.toContain("evil.example");
    expect(seen).not.toContain("sk_live_secret");
    expect(seen).not.toContain("timeout=5");
    expect(seen).not.toContain("Zm9v");
    if (name === "wsgi") {
      expect(body.headers.HTTP_X_SLUICE_TENANT).toBe("acme");
      expect(body.headers.HTTP_X_FORWARDED_FOR).toBe("203.0.113.7");
      for (const [spoof] of SPOOFS) {
        const cgi = cgiName(spoof);
        if (
          !["HTTP_X_SLUICE_TENANT", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST"].includes(cgi)
        ) {
          expect(body.headers[cgi], spoof).toBeUndefined();
        }
      }
    } else {
      expect(body.headers["x-sluice-tenant"]).toBe("acme");
      expect(body.headers["x-forwarded-for"]).toBe("203.0.113.7");
    }
  });

  it("drops what Connection nominates, in every spelling, where the field is visible", async () => {
    const origin = new URL(`http://127.0.0.1:${ports.wsgi}`);
    const req = new Request("https://gw.example/x", {
      headers: [
        ["Connection", "close, X-Drop-Me, authorization"],
        ["X_Drop_Me", "1"],
        ["Authorization", "Bearer origin-cred"],
        ["X-Kept", "yes"],
      ],
    });
    const res = await forward(req, {
      origin,
      timeoutMs: 5000,
      forwardedFor: "",
      appendForwardedFor: false,
    });
    const body = (await res.json()) as { headers: Record<string, string> };
    expect(body.headers.HTTP_X_DROP_ME).toBeUndefined();
    expect(body.headers.HTTP_AUTHORIZATION).toBeUndefined();
    expect(body.headers.HTTP_X_KEPT).toBe("yes");
  });

  it("rawRequest sends header names byte for byte", async () => {
    const { body } = await rawRequest(ports.wsgi as number, "/", [["X_Under", "1"]]);
    expect(body).toContain("HTTP_X_UNDER");
  });
});
