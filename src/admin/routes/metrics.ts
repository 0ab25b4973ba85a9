/** @module admin/routes/metrics — `GET /metrics`: every isolate's metrics added up, as OpenMetrics text (or the Prometheus 0.0.4 text format). */
import { Hono } from "hono";
import { OPENMETRICS_TYPE, PROMETHEUS_TYPE, renderMetrics } from "../../observe/exposition.ts";
import { missing, unavailable } from "../../respond/problem.ts";
import type { AdminEnv } from "../context.ts";

/**
 * `/metrics` under the admin base. This isolate's own deltas are flushed
 * first, so what it counted is in the answer; other isolates' arrive within
 * their flush interval (5 s). OpenMetrics 1.0 when the scraper asks for it
 * (Prometheus does), else the Prometheus text format 0.0.4.
 */
export const metricsRoutes = new Hono<AdminEnv>().get("/", async (c) => {
  const { metrics, clock } = c.var.admin;
  if (!metrics) throw missing("Metrics (SLUICE_METRICS_OFF is set, so nothing is counted)");
  let text: string;
  const openMetrics = /application\/openmetrics-text/i.test(c.req.header("accept") ?? "");
  try {
    text = renderMetrics(await metrics.aggregate(), clock(), openMetrics);
  } catch {
    throw unavailable("The metrics store did not answer.");
  }
  return c.body(text, 200, { "content-type": openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE });
});
