import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EchoReply as Echo } from "../../tools/echo-origin.ts";
import { gateway, LOGIN_POLICY } from "./helpers.ts";

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("forwarding to the origin", () => {
  it("preserves method, path, query and body", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const body = new TextEncoder().encode(JSON.stringify({ hello: "wörld" }));
    const res = await gw.fetch("/v1/items/42?b=2&a=1&a=3", {
      method: "PATCH",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Echo;
    expect(echo).toMatchObject({
      method: "PATCH",
      path: "/v1/items/42",
      query: "?b=2&a=1&a=3",
      bodyBytes: body.byteLength,
    });
    expect(echo.bodySha256).toBe(await sha256(body));
    expect(echo.headers["content-type"]).toBe("application/json");
  });

  it("strips hop-by-hop headers and sets X-Forwarded-*", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const res = await gw.fetch("/x", {
      headers: {
        connection: "keep-alive, x-secret-hop",
        "x-secret-hop": "1",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        te: "trailers",
        "x-forwarded-for": "10.0.0.1",
        "x-kept": "yes",
      },
      ip: "203.0.113.50",
    });
    const echo = (await res.json()) as Echo;
    expect(echo.headers["x-secret-hop"]).toBeUndefined();
    expect(echo.headers["proxy-authorization"]).toBeUndefined();
    expect(echo.headers.te).toBeUndefined();
    expect(echo.headers["x-kept"]).toBe("yes");
    // The client's own X-Forwarded-For is not trusted under the default identity.
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.50");
    expect(echo.headers["x-forwarded-proto"]).toBe("https");
    expect(echo.headers["x-forwarded-host"]).toBe("gateway.test");
  });

  it("drops every spelling of the headers Sluice manages, whatever route", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    for (const path of ["/x", "/login"]) {
      const res = await gw.fetch(path, {
        method: "POST",
        headers: [
          ["X_Sluice_Tenant", "victim"],
          ["x-sluice_tenant", "victim"],
          ["X.Sluice.Tenant", "victim"],
          ["X_Forwarded_For", "6.6.6.6"],
          ["X-Forwarded-Port", "1"],
          ["X-Forwarded-Prefix", "/admin"],
          ["Forwarded", "for=6.6.6.6;host=evil.example"],
          ["X-Real-IP", "6.6.6.6"],
          ["X_Real_IP", "6.6.6.6"],
          ["True-Client-IP", "6.6.6.6"],
          ["X-Client-IP", "6.6.6.6"],
          ["CF_Connecting_IP", "6.6.6.6"],
          ["X-Original-URL", "/admin"],
          ["X_Rewrite_URL", "/admin"],
        ],
        ip: "203.0.113.52",
      });
      const echo = (await res.json()) as Echo;
      const seen = JSON.stringify(echo.headers);
      expect(seen, path).not.toMatch(/victim|6\.6\.6\.6|\/admin|evil\.example/);
      expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.52");
    }
  });

  it("drops the names Connection nominates, in every spelling, and still sets its own", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    // A Request built in code keeps Connection; workerd's HTTP server does not
    // (README "Security"), and the origin never sees the client's Connection.
    const res = await gw.fetch("/x", {
      headers: {
        connection: "close, X-Drop-Me, x-forwarded-for, authorization",
        x_drop_me: "1",
        authorization: "Bearer origin-cred",
        "http2-settings": "AAMAAABkAAQAAP__",
      },
      ip: "203.0.113.53",
    });
    const echo = (await res.json()) as Echo;
    expect(echo.headers.x_drop_me).toBeUndefined();
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers["http2-settings"]).toBeUndefined();
    expect(echo.headers.connection ?? "").not.toMatch(/drop|forwarded|authorization/i);
    expect(echo.headers["x-forwarded-for"]).toBe("203.0.113.53");
  });

  it("sets X-Forwarded-For to the limited client's address on a matched route too", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const res = await gw.fetch("/login", {
      method: "POST",
      headers: { "x-forwarded-for": "10.0.0.1" },
      ip: "203.0.113.51",
    });
    expect(res.headers.has("ratelimit")).toBe(true);
    expect(((await res.json()) as Echo).headers["x-forwarded-for"]).toBe("203.0.113.51");

    const behindProxy = gateway("durable-object", {
      ...LOGIN_POLICY,
      identity: { ip: { source: "x-forwarded-for", trustedHops: 1 } },
    });
    // Behind a trusted proxy the chain grows by the proxy's own address (the
    // peer Cloudflare saw), not by the client's a second time.
    const chained = await behindProxy.fetch("/login", {
      method: "POST",
      headers: { "x-forwarded-for": "198.51.100.7, 192.0.2.1" },
      ip: "203.0.113.60",
    });
    expect(chained.headers.has("ratelimit")).toBe(true);
    expect(((await chained.json()) as Echo).headers["x-forwarded-for"]).toBe(
      "198.51.100.7, 192.0.2.1, 203.0.113.60",
    );
    expect(behindProxy.events.at(-1)?.ipKey).toBe("192.0.2.1");
  });

  it("never lets the request choose the destination", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const origin = new URL(env.ORIGIN_URL);
    for (const [path, seen] of [
      ["//evil.example/steal", "/evil.example/steal"],
      ["/@evil.example/x", "/@evil.example/x"],
      ["/\\evil.example/x", "/evil.example/x"],
    ]) {
      const res = await gw.fetch(path as string, { headers: { host: "evil.example" } });
      expect(res.status).toBe(200);
      const echo = (await res.json()) as Echo;
      expect(echo.headers.host).toBe(origin.host);
      expect(echo.path).toBe(seen);
    }
    // An encoded separator is refused before any destination is built.
    expect((await gw.fetch("/%2F%2Fevil.example/x")).status).toBe(400);
  });

  it("streams a large upload and a large download", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const size = 24 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024).fill(98);
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const up = await gw.fetch("/upload", {
      method: "PUT",
      body: upload,
      duplex: "half",
    } as RequestInit);
    expect(((await up.json()) as Echo).bodyBytes).toBe(size);

    const down = await gw.fetch(`/__big?bytes=${size}`);
    expect(down.status).toBe(200);
    let received = 0;
    const reader = (down.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    expect(received).toBe(size);
  });

  it("answers 502 problem+json when the origin is unreachable", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY, { ORIGIN_URL: "http://127.0.0.1:9" });
    const res = await gw.fetch("/x");
    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as { status: number }).status).toBe(502);
  });

  it("answers 504 problem+json when the origin is slower than its timeout", async () => {
    const gw = gateway("durable-object", { ...LOGIN_POLICY, origin: { timeoutMs: 200 } });
    const started = Date.now();
    const res = await gw.fetch("/__slow?ms=3000");
    expect(res.status).toBe(504);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it.each([101, 600, 999])(
    "answers 502 problem+json when the origin sends status %i",
    async (code) => {
      const gw = gateway("durable-object", LOGIN_POLICY);
      const res = await gw.fetch(`/__raw-status/${code}`);
      expect(res.status).toBe(502);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(((await res.json()) as { detail: string }).detail).toContain(String(code));
    },
  );

  it("passes through the edge statuses the origin may send: 200 and 599", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    expect((await gw.fetch("/__raw-status/200")).status).toBe(200);
    expect((await gw.fetch("/__raw-status/599")).status).toBe(599);
  });

  it("passes origin redirects back instead of following them", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const res = await gw.fetch("/__status/302");
    expect(res.status).toBe(302);
  });
});
