/** @module test/node/tools/echo-origin — the test origin describes requests and streams big bodies. */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EchoOriginHandle,
  type EchoReply,
  ORIGIN_RATELIMIT,
  startEchoOrigin,
} from "../../../tools/echo-origin.ts";

let origin: EchoOriginHandle;

beforeAll(async () => {
  origin = await startEchoOrigin();
});

afterAll(async () => {
  await origin?.close();
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("echo origin", () => {
  it("describes the request and sends its own headers", async () => {
    const res = await fetch(`${origin.url}/v1/items?b=2&a=%20x`, {
      headers: { "X-Test": "yes", "x-multi": "1" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBe("echo");
    expect(res.headers.get("x-origin-custom")).toBe("keep");
    expect(res.headers.getSetCookie()).toEqual(["a=1"]);
    const body = (await res.json()) as EchoReply;
    expect(body).toMatchObject({
      method: "GET",
      path: "/v1/items",
      query: "?b=2&a=%20x",
      bodyBytes: 0,
      bodySha256: sha256(new Uint8Array()),
    });
    expect(body.headers["x-test"]).toBe("yes");
    expect(body.headers.host).toBe(`127.0.0.1:${origin.port}`);
    expect(origin.url).toBe(`http://127.0.0.1:${origin.port}`);
  });

  it("hashes a large streamed request body", async () => {
    const chunk = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const chunks = 24;
    const hash = createHash("sha256");
    for (let i = 0; i < chunks; i++) hash.update(chunk);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < chunks) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${origin.url}/upload`, {
      method: "PUT",
      body,
      duplex: "half",
    } as RequestInit);
    const echo = (await res.json()) as EchoReply;
    expect(echo.method).toBe("PUT");
    expect(echo.bodyBytes).toBe(chunk.length * chunks);
    expect(echo.bodySha256).toBe(hash.digest("hex"));
    expect(echo.headers["transfer-encoding"]).toBe("chunked");
  });

  it("streams a big chunked response of exactly N bytes of 'a'", async () => {
    const bytes = 3 * 1024 * 1024 + 123;
    const res = await fetch(`${origin.url}/__big?bytes=${bytes}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    expect(res.headers.get("content-length")).toBeNull();
    let total = 0;
    let allA = true;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += part.length;
      if (allA && part.some((b) => b !== 0x61)) allA = false;
    }
    expect(total).toBe(bytes);
    expect(allA).toBe(true);
  });

  it("waits before answering on /__slow", async () => {
    const started = performance.now();
    const res = await fetch(`${origin.url}/__slow?ms=150`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(149);
    expect(((await res.json()) as EchoReply).path).toBe("/__slow");
  });

  it("advertises its own quota on /__ratelimit", async () => {
    const res = await fetch(`${origin.url}/__ratelimit`);
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe(ORIGIN_RATELIMIT["ratelimit-policy"]);
    expect(res.headers.get("ratelimit")).toBe(ORIGIN_RATELIMIT.ratelimit);
  });

  it("answers the requested status on /__status/NNN", async () => {
    const res = await fetch(`${origin.url}/__status/503`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 503 });
    expect(res.headers.get("x-origin")).toBe("echo");
    expect((await fetch(`${origin.url}/__status/099`)).status).toBe(400);
  });

  it("closes promptly even with a slow request in flight", async () => {
    const other = await startEchoOrigin();
    const pending = fetch(`${other.url}/__slow?ms=60000`).then(
      () => "answered",
      () => "failed",
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await other.close();
    expect(await pending).toBe("failed");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
