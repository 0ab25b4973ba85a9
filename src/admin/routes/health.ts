/** @module admin/routes/health — the store's health with its error text and when it was probed, for admins only. */
import { Hono } from "hono";
import type { AdminEnv } from "../context.ts";

/** `/health` under the admin base: what `/__sluice/health` does not show anyone. */
export const healthRoutes = new Hono<AdminEnv>().get("/", async (c) => {
  const { health, clock } = c.var.admin;
  const store = await health.check();
  return c.json(
    {
      status: store.reachable ? "ok" : "degraded",
      store: {
        ...store,
        checkedAt: new Date(store.checkedAt).toISOString(),
        ageMs: clock() - store.checkedAt,
      },
    },
    store.reachable ? 200 : 503,
  );
});
