/** @module test/node/scripts/build-package — the installable package's manifest (npm run pack:check runs the tarball itself). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ENTRIES, manifest } from "../../../scripts/build-package.ts";

const root = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8"),
);
const built = manifest(root);

describe("the built package.json", () => {
  it("is scoped, stays private here, and ships the sluice bin", () => {
    expect(built.name).toBe("@sluice-gateway/sluice");
    expect(built.private).toBe(true);
    expect(built.bin).toEqual({ sluice: "bin/sluice.js" });
  });

  it("takes hono as a peer, never as a dependency, so an app bundles one copy", () => {
    expect(built.peerDependencies).toEqual({ hono: `^${root.devDependencies.hono}` });
    expect(built.dependencies).not.toHaveProperty("hono");
    expect(Object.keys(built.dependencies)).toEqual(["@upstash/redis"]);
  });

  it("exports ESM with types for the same subpaths the repository resolves to source", () => {
    for (const [subpath, entry] of Object.entries(ENTRIES)) {
      expect(built.exports[subpath]).toEqual({
        types: `./dist/${entry}.d.ts`,
        default: `./dist/${entry}.js`,
      });
      expect(root.exports[subpath]).toBe(`./src/${entry}.ts`);
    }
    expect(built.type).toBe("module");
    expect(built.sideEffects).toBe(false);
  });
});
