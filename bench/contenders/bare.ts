/** @module bench/contenders/bare — the floor: a Hono app that only forwards to the origin. */
import { Hono } from "hono";
import { type BenchEnv, forward } from "./shared.ts";

const app = new Hono<{ Bindings: BenchEnv }>();

app.all("*", (c) => forward(c.env.ORIGIN_URL, c.req.raw));

export default app;
