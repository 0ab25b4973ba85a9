/** @module test/node/origins/origins — two real origin stacks (Node's http server, Python's wsgiref) and a raw HTTP/1.1 client, to ask how origins read a request. */
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";

/** How one origin stack saw a request; `undefined` when it refused it (400 and the like). */
export interface OriginView {
  /** The path as the stack hands it to the application's router, by way of reading it. */
  paths: Record<string, string>;
  /** Header names as the application reads them (WSGI: `HTTP_X_SLUICE_TENANT`). */
  headers: Record<string, string>;
}

export interface Origin {
  name: string;
  port: number;
  /** Sends exactly these bytes of request target and headers. */
  see(target: string, headers?: readonly [string, string][]): Promise<OriginView | undefined>;
  close(): Promise<void>;
}

/**
 * Sends one HTTP/1.1 request with exactly `target` and `headers` (no client-side
 * normalisation, unlike fetch) and returns the status and body.
 */
export function rawRequest(
  port: number,
  target: string,
  headers: readonly [string, string][] = [],
): Promise<{ status: number; body: string }> {
  const lines = [`GET ${target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  const bytes = `${lines.join("\r\n")}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => socket.end(bytes, "latin1"));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const at = text.indexOf("\r\n\r\n");
      resolve({ status, body: at < 0 ? "" : text.slice(at + 4) });
    });
  });
}

/**
 * Node's own http server; its application reads the path through the URL
 * standard, either resolving the target against a base (`new URL(req.url,
 * base)`, common and fooled by a leading "//") or appending it to one.
 */
export async function nodeOrigin(): Promise<Origin> {
  const server = http.createServer((req, res) => {
    const target = req.url ?? "/";
    const paths: Record<string, string> = {};
    // A target the URL parser rejects gets no handler from that way of reading it.
    const resolved = URL.parse(target, "http://origin.internal");
    if (resolved) paths["node-resolved"] = resolved.pathname;
    const appended = URL.parse(`http://origin.internal${target}`);
    if (appended) paths["node-appended"] = appended.pathname;
    const body = JSON.stringify({
      paths,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v]),
      ),
    });
    res
      .writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name: "node",
    port,
    async see(target, headers) {
      const { status, body } = await rawRequest(port, target, headers);
      return status === 200 ? (JSON.parse(body) as OriginView) : undefined;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Python's wsgiref: PATH_INFO percent-decoded by the server, read as UTF-8 by the app. */
export async function wsgiOrigin(): Promise<Origin> {
  const script = fileURLToPath(new URL("../../fixtures/origins/wsgi_origin.py", import.meta.url));
  const child = spawn("python3", ["-u", script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return {
    name: "wsgi",
    port,
    async see(target, headers) {
      const { status, body } = await rawRequest(port, target, headers);
      if (status !== 200) return undefined;
      const reply = JSON.parse(body) as { path_info_hex: string; headers: Record<string, string> };
      const bytes = Buffer.from(reply.path_info_hex, "hex");
      return { paths: { wsgi: new TextDecoder().decode(bytes) }, headers: reply.headers };
    },
    close: async () => {
      child.kill();
    },
  };
}
