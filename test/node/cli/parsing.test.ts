/** @module test/node/cli/parsing — option parsing, option values, suggestions and tables of the sluice CLI. */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/cli/errors.ts";
import { table } from "../../../src/cli/format.ts";
import { type OptionSpecs, parseOptions, scan } from "../../../src/cli/options.ts";
import { closest } from "../../../src/cli/suggest.ts";
import { expiryFrom, wholeNumber } from "../../../src/cli/values.ts";

describe("parseOptions", () => {
  const specs: OptionSpecs = {
    tenant: { type: "string", help: "" },
    json: { type: "boolean", help: "" },
    help: { type: "boolean", short: "h", help: "" },
  };

  it("splits positionals from --name value, --name=value, flags and -h", () => {
    expect(parseOptions(["create", "--tenant", "acme", "x", "--json"], specs)).toEqual({
      positionals: ["create", "x"],
      values: { tenant: "acme", json: true },
    });
    expect(parseOptions(["--tenant=a=b"], specs).values.tenant).toBe("a=b");
    expect(parseOptions(["-h"], specs).values.help).toBe(true);
    expect(parseOptions(["--", "--json"], specs).positionals).toEqual(["--json"]);
  });

  it.each([
    [["--plan", "pro"], "unknown option --plan; expected one of --tenant, --json, --help"],
    [["--tenat", "acme"], "unknown option --tenat; did you mean --tenant?"],
    [["-x"], "unknown option -x; expected one of --tenant, --json, --help"],
    [["--tenant"], "--tenant needs a value"],
    [["--tenant", "--json"], "--tenant needs a value"],
    [["--tenant="], "--tenant needs a value"],
    [["--tenant", "a", "--tenant", "b"], "--tenant given twice"],
    [["--json", "--json"], "--json given twice"],
    [["--json=yes"], "--json takes no value"],
  ])("refuses %j: %s", (argv, message) => {
    let thrown: unknown;
    try {
      parseOptions(argv, specs);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).message).toBe(message);
    expect((thrown as UsageError).details.showUsage).toBe(true);
  });

  it("scans leniently to find the command words before the command's options are known", () => {
    expect(scan(["--json", "keys", "list", "--bogus"], specs)).toEqual({
      positionals: ["keys", "list"],
      values: { json: true, bogus: true },
    });
  });
});

describe("option values", () => {
  const now = Date.parse("2026-11-22T00:00:00Z");

  it("reads expiries as durations or ISO times", () => {
    expect(expiryFrom("30d", now)).toBe("2026-12-22T00:00:00.000Z");
    expect(expiryFrom("90m", now)).toBe("2026-11-22T01:30:00.000Z");
    expect(expiryFrom("2027-01-01T00:00:00Z", now)).toBe("2027-01-01T00:00:00.000Z");
  });

  it("names the flag when an expiry or a count is malformed", () => {
    expect(() => expiryFrom("next week", now)).toThrow(
      '--expires: expected a time like 2026-12-31T00:00:00Z or a duration like 30d, 12h, 90m; got "next week"',
    );
    expect(() => expiryFrom("30", now)).toThrow(UsageError);
    expect(wholeNumber("50", "--limit", 10_000)).toBe(50);
    for (const bad of ["abc", "0", "10001", "1.5", "-1"]) {
      expect(() => wholeNumber(bad, "--limit", 10_000)).toThrow(
        `--limit: expected a whole number from 1 to 10000, got ${JSON.stringify(bad)}`,
      );
    }
  });
});

describe("closest", () => {
  it("suggests only near misses", () => {
    expect(closest("--tenat", ["--tenant", "--plan"])).toBe("--tenant");
    expect(closest("keys lst", ["keys list", "keys create"])).toBe("keys list");
    expect(closest("--plan", ["--json", "--url"])).toBeUndefined();
    expect(closest("x", ["y"])).toBeUndefined();
  });
});

describe("table", () => {
  it("aligns columns and shows missing values as -", () => {
    expect(
      table(
        ["ID", "PLAN", "NAME"],
        [
          ["acme", "pro", undefined],
          ["b", "free", "Bee"],
        ],
      ),
    ).toBe(["ID    PLAN  NAME", "acme  pro   -", "b     free  Bee"].join("\n"));
  });
});
