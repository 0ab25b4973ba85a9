/** @module test/node/scripts/ensure-tools — what `npm test` installs first, or the one line it says instead. */
import { describe, expect, it } from "vitest";
import { plan } from "../../../scripts/ensure-tools.ts";

describe("ensure-tools plan", () => {
  it("installs nothing when every tool is there", () => {
    expect(plan(() => true, true)).toEqual({ packages: [] });
    expect(plan(() => true, false)).toEqual({ packages: [] });
  });

  it("names the Debian packages of the missing tools, to install as root", () => {
    expect(plan((c) => c === "redis-server", true)).toEqual({
      packages: ["prometheus", "chromium"],
    });
  });

  it("says how in one line when it may not install", () => {
    const { how } = plan((c) => c !== "promtool", false);
    expect(how).toBe(
      "promtool is missing: install with `sudo apt-get install -y prometheus`, then run npm test again",
    );
    expect(plan(() => false, false).how).toContain(
      "redis-server, promtool, chromium are missing: install with `sudo apt-get install -y redis-server prometheus chromium`",
    );
  });
});
