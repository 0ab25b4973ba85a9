/** @module bench/origin — the benchmark's origin: a plain Node http server answering every request with a small fixed JSON body. */
import http from "node:http";
import { parseArgs } from "node:util";
import { isMain } from "../tools/main.ts";

const BODY = Buffer.from('{"ok":true}');

/**
 * Starts the origin on 127.0.0.1 (a free port unless one is given). It reads
 * and drops any request body and answers 200 at once: as cheap as an origin
 * gets, so the gateways in front of it are what the benchmark measures.
 *
 * @example
 * const origin = await startBenchOrigin();
 * console.log(origin.url); // http://127.0.0.1:40321
 */
export async function startBenchOrigin(
  opts: { port?: number } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (isMain(import.meta.filename)) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const origin = await startBenchOrigin(values.port ? { port: Number(values.port) } : {});
  // The harness reads this line to learn the port.
  console.log(`bench origin listening on ${origin.url}`);
  const shutdown = () => origin.close().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}
