/** @module test/node/policy/schema — the generated JSON Schema says what the reader does: same defaults, same patterns, no unknown fields. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SF_KEY, SHARED_NAME } from "../../../src/policy/limits.ts";
import { COUNTRY, LIST_NAME } from "../../../src/policy/protect.ts";
import { TOKEN } from "../../../src/policy/read.ts";
import { KEY_PREFIX, NAMESPACE, TENANT_ID } from "../../../src/policy/tenants.ts";
import { PREFIX, RULE_NAME, validatePolicy } from "../../../src/policy/validate.ts";

interface Node {
  $ref?: string;
  type?: string;
  default?: unknown;
  pattern?: string;
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: boolean | Node;
  propertyNames?: Node;
  items?: Node;
}

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
const schema = JSON.parse(read("../../../src/sluice.policy.schema.json")) as {
  $ref: string;
  definitions: Record<string, Node>;
};
const definition = (name: string): Node => {
  const node = schema.definitions[name];
  if (!node) throw new Error(`no definition ${name}`);
  return node;
};
const resolve = (node: Node): Node =>
  node.$ref ? definition(node.$ref.replace("#/definitions/", "")) : node;
const property = (def: string, name: string): Node => {
  const node = definition(def).properties?.[name];
  if (!node) throw new Error(`no property ${def}.${name}`);
  return node;
};

/**
 * Writes out every default the schema states, into `value` and into each optional section it
 * leaves out, so the reader must give the same policy as with the defaults left implicit.
 */
/** Optional sections whose presence turns something on: written out, they are not defaults. */
const PRESENCE_MATTERS = new Set(["concurrency", "ban", "adaptive", "response", "alerts"]);

function fillDefaults(node: Node, value: unknown, filled: string[], path: string): unknown {
  const def = resolve(node);
  if (def.type === "array" && Array.isArray(value) && def.items) {
    const items = def.items;
    return value.map((v, i) => fillDefaults(items, v, filled, `${path}[${i}]`));
  }
  if (def.type !== "object" || !def.properties || typeof value !== "object" || value === null) {
    return value;
  }
  const out: Record<string, unknown> = { ...value };
  for (const [key, child] of Object.entries(def.properties)) {
    const here = `${path}.${key}`;
    if (out[key] !== undefined) {
      out[key] = fillDefaults(child, out[key], filled, here);
    } else if (child.default !== undefined) {
      out[key] = child.default;
      filled.push(here);
    } else if (
      resolve(child).type === "object" &&
      resolve(child).properties &&
      !PRESENCE_MATTERS.has(key)
    ) {
      out[key] = fillDefaults(child, {}, filled, here);
    }
  }
  return out;
}

describe("the policy JSON Schema", () => {
  it("describes RawPolicy and refuses unknown fields in every fixed-shape object", () => {
    expect(schema.$ref).toBe("#/definitions/RawPolicy");
    const objects = Object.entries(schema.definitions).filter(([, d]) => d.type === "object");
    expect(objects.length).toBeGreaterThan(10);
    for (const [name, d] of objects) {
      expect([name, d.additionalProperties]).toEqual([name, false]);
    }
    expect(definition("RawPolicy").required).toEqual(["rules"]);
  });

  it("states the reader's defaults: writing them all out changes nothing", () => {
    const minimal = {
      tenants: {},
      rules: [{ name: "r", match: { path: "/r" }, limits: [{ rate: "1/s" }] }],
    };
    const filled: string[] = [];
    const explicit = fillDefaults({ $ref: schema.$ref }, minimal, filled, "");
    // Every section and its fields, the rule's and the limit's: not a vacuous pass.
    expect(filled.length).toBeGreaterThanOrEqual(20);
    expect(filled).toContain(".tenants.authFailures");
    expect(filled).toContain(".rules[0].limits[0].algorithm");
    expect(filled).toContain(".rules[0].rateLimitHeaders");
    const a = validatePolicy(explicit);
    const b = validatePolicy(minimal);
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) expect(a.policy).toEqual(b.policy);
  });

  it("uses the reader's patterns", () => {
    const header = TOKEN.source.slice(1); // without "^"
    expect([
      property("RawPolicy", "prefix").pattern,
      property("RawPolicy", "plans").propertyNames?.pattern,
      property("RawApiKey", "header").pattern,
      property("RawTenants", "header").pattern,
      property("RawTenants", "keyPrefix").pattern,
      property("RawTenants", "namespace").pattern,
      property("RawRule", "name").pattern,
      property("RawLimit", "name").pattern,
      property("RawLimit", "shared").pattern,
      property("RawPolicy", "lists").propertyNames?.pattern,
      definition("ListName").pattern,
      definition("TenantIdText").pattern,
      definition("CountryText").pattern,
      definition("MethodText").pattern,
      definition("HeaderSubject").pattern,
    ]).toEqual([
      PREFIX.source,
      TENANT_ID.source,
      TOKEN.source,
      TOKEN.source,
      KEY_PREFIX.source,
      NAMESPACE.source,
      RULE_NAME.source,
      SF_KEY.source,
      SHARED_NAME.source,
      LIST_NAME.source,
      LIST_NAME.source,
      TENANT_ID.source,
      COUNTRY.source,
      TOKEN.source,
      `^header:${header}`,
    ]);
  });

  it("is what the bundled policy points at", () => {
    const bundled = JSON.parse(read("../../../src/sluice.policy.json")) as { $schema?: string };
    expect(bundled.$schema).toBe("./sluice.policy.schema.json");
  });
});
