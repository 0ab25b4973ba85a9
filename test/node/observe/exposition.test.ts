/** @module test/node/observe/exposition — the metrics text checked by real parsers: `promtool check metrics` (text 0.0.4) and a Prometheus server scraping the OpenMetrics form. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OPENMETRICS_TYPE, renderMetrics } from "../../../src/observe/exposition.ts";
import { Metrics } from "../../../src/observe/metrics.ts";
import { MemoryMetricsStore } from "../../../src/stores/memory/metrics-store.ts";

const NOW = 1_780_000_000_000;

/** A registry with every family, awkward label values and a capped tenant set. */
async function sample() {
  const m = new Metrics({ maxTenants: 2 });
  for (const tenant of ["acme", 'we"ird\\ten\nant', "third", "fourth"]) {
    m.count("sluice_requests", { rule: "api", outcome: "allowed", tenant: m.tenant(tenant) }, 2);
  }
  m.count("sluice_requests", { rule: "login", outcome: "denied", tenant: "" }, 5);
  m.count("sluice_limit_checks", { rule: "api", limit: "tenant-1d", result: "denied" });
  m.countMs("sluice_store_degraded_seconds", { store: "redis" }, 1500);
  for (const ms of [0.4, 3, 3, 70, 20_000])
    m.observe("sluice_store_latency_seconds", { store: "redis" }, ms);
  m.observe("sluice_origin_latency_seconds", { rule: "api" }, 12);
  m.gauge(
    "sluice_tenant_quota_used_ratio",
    { tenant: "acme", rule: "api", limit: "tenant-1d" },
    0.85,
    NOW + 1000,
  );
  m.gauge(
    "sluice_tenant_quota_used_ratio",
    { tenant: "gone", rule: "api", limit: "tenant-1d" },
    0.5,
    NOW - 1,
  );
  m.gauge("sluice_adaptive_factor", { rule: "api" }, 0.5, NOW + 1000);
  for (let i = 0; i < 30; i++) m.limited("login", `ip:198.51.100.${i}`);
  m.limited("login", "ip:198.51.100.1");
  const store = new MemoryMetricsStore();
  await store.add(m.take(), NOW);
  return store.read();
}

const promtool = spawnSync("promtool", ["--version"]).status === 0;

describe("metrics exposition", () => {
  it("is a valid Prometheus text format for promtool check metrics", async () => {
    expect(promtool, "promtool (Debian package prometheus) must be installed").toBe(true);
    const text = renderMetrics(await sample(), NOW, false);
    const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(run.stdout + run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(text).toContain('sluice_requests_total{outcome="allowed",rule="api",tenant="other"} 4');
    expect(text).toContain('tenant="we\\"ird\\\\ten\\nant"');
    expect(text).toContain('sluice_store_degraded_seconds_total{store="redis"} 1.5');
    expect(text).toContain('sluice_store_latency_seconds_bucket{store="redis",le="0.005"} 3');
    expect(text).toContain('sluice_store_latency_seconds_bucket{store="redis",le="+Inf"} 5');
    expect(text).toContain(
      'sluice_tenant_quota_used_ratio{limit="tenant-1d",rule="api",tenant="acme"} 0.85',
    );
    expect(text).not.toContain('tenant="gone"');
    // The top 20 of 30 subjects, the most limited first; the rest summed as other.
    expect(text).toContain(
      'sluice_limited_subject_recent{rule="login",subject="ip:198.51.100.1"} 2',
    );
    expect(text).toContain('sluice_limited_subject_recent{rule="login",subject="other"} 10');
  });

  it("is OpenMetrics a Prometheus server scrapes", async () => {
    const text = renderMetrics(await sample(), NOW, true);
    expect(text.endsWith("# EOF\n")).toBe(true);
    expect(text).toContain("# TYPE sluice_requests counter");
    expect(text).toContain("# UNIT sluice_store_latency_seconds seconds");
    const samples = await scrapeWithPrometheus(text);
    expect(samples.get('sluice_requests_total{outcome="denied",rule="login"}')).toBe("5");
    expect(samples.get('sluice_store_latency_seconds_count{store="redis"}')).toBe("5");
    expect(samples.get("up")).toBe("1");
  }, 40_000);
});

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * Serves `text` as OpenMetrics, lets a real `prometheus` scrape it once, and
 * returns the samples it stored (series → value). A text its parser rejects
 * leaves `up` at 0 and no samples.
 */
async function scrapeWithPrometheus(text: string): Promise<Map<string, string>> {
  const accepted: string[] = [];
  const server = createServer((req, res) => {
    accepted.push(req.headers.accept ?? "");
    res.writeHead(200, { "content-type": OPENMETRICS_TYPE });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => server.close());
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-prom-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: sluice\n    static_configs: [{ targets: ["${target}"] }]\n`,
  );
  const webPort = await freePort();
  const prom = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${webPort}`,
    ],
    { stdio: "ignore" },
  );
  cleanups.push(() => prom.kill("SIGKILL"));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const query = encodeURIComponent('{job="sluice"}');
    const body = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${query}`)
      .then((r) => r.json() as Promise<PromAnswer>)
      .catch(() => undefined);
    const result = body?.data?.result ?? [];
    if (result.length > 1) {
      expect(accepted[0]).toMatch(/application\/openmetrics-text/);
      return new Map(result.map((r) => [seriesName(r.metric), r.value[1]]));
    }
  }
  throw new Error("prometheus stored no samples from the scrape within 30 s");
}

interface PromAnswer {
  data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** `name{a="1",b="2"}` without the scrape's own job and instance labels. */
function seriesName(metric: Record<string, string>): string {
  const { __name__: name = "", job: _job, instance: _instance, ...labels } = metric;
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(",");
  return text ? `${name}{${text}}` : name;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
