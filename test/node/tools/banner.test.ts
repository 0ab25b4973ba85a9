/** @module test/node/tools/banner — what `npm run dev[:redis]` prints agrees with the README a newcomer follows. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { banner, demoPlan } from "../../../tools/banner.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const bundled: unknown = JSON.parse(readFileSync(`${root}src/sluice.policy.json`, "utf8"));
const base = {
  sluiceUrl: "http://127.0.0.1:8787",
  originUrl: "http://127.0.0.1:40000",
  store: "Durable Object",
  adminToken: "t0ken",
  policy: bundled,
};

/** The README's CLI commands, where a newcomer goes after the banner. */
const cliSection = readme.slice(readme.indexOf("## CLI"));
const cliBlock = cliSection.slice(cliSection.indexOf("```sh"), cliSection.indexOf("```\n\n"));

describe("the dev banner", () => {
  it("issues the same key as the README's first CLI line (same tenant, same plan)", () => {
    const keys = /keys: {5}(npx sluice keys create .*)/.exec(banner(base))?.[1];
    expect(keys).toBe("npx sluice keys create --tenant acme --plan free");
    expect(cliBlock).toContain(`${keys} `);
    expect(cliBlock.indexOf(keys as string)).toBeLessThan(cliBlock.indexOf("--plan pro"));
  });

  it("exports the URL and token on a line of their own, before any npx sluice line", () => {
    const text = banner(base);
    expect(text).toContain("export SLUICE_URL=http://127.0.0.1:8787 SLUICE_ADMIN_TOKEN=t0ken");
    expect(text.indexOf("export SLUICE_URL")).toBeLessThan(text.indexOf("npx sluice"));
    for (const line of text.split("\n").filter((l) => l.includes("npx sluice"))) {
      expect(line).not.toContain("t0ken");
    }
    expect(cliBlock.indexOf("export SLUICE_URL")).toBeLessThan(cliBlock.indexOf("npx sluice"));
  });

  it("prints the REST endpoint's URL and token with dev:redis", () => {
    const text = banner({
      ...base,
      store: "Redis",
      redis: { port: 40277, pid: 19393, restUrl: "http://127.0.0.1:44609", restToken: "r3st" },
    });
    expect(text).toContain(
      "UPSTASH_REDIS_REST_URL=http://127.0.0.1:44609 UPSTASH_REDIS_REST_TOKEN=r3st",
    );
    expect(text).toContain("redis-cli -p 40277");
  });

  it("prints no keys line for a policy without tenants", () => {
    const policy = { rules: [{ name: "all", match: { path: "*" }, limits: [{ rate: "5/s" }] }] };
    const text = banner({ ...base, policy });
    expect(text).not.toContain("keys create");
    expect(text).toContain("npx sluice usage ip:127.0.0.1");
  });
});

describe("demoPlan", () => {
  it.each<[string, unknown, string | undefined]>([
    ["the bundled policy", bundled, "free"],
    ["tenants without a free plan", { tenants: {}, plans: { gold: "9/s" } }, "gold"],
    ["plans but no tenants", { plans: { free: "5/s" } }, undefined],
    ["unreadable JSON", undefined, undefined],
  ])("%s → %s", (_name, policy, plan) => {
    expect(demoPlan(policy)).toBe(plan);
  });
});
