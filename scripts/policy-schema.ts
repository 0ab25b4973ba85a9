/** @module scripts/policy-schema — writes src/sluice.policy.schema.json from the RawPolicy type; `--check` only says whether it is stale. */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createGenerator } from "ts-json-schema-generator";

const SCHEMA_FILE = "src/sluice.policy.schema.json";
const root = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/**
 * The JSON Schema of policy files as committed text, generated from `RawPolicy` in
 * src/policy/raw.ts (descriptions, defaults, enums, patterns, ranges, no unknown fields).
 *
 * @example
 * JSON.parse(policySchema()).$ref; // → "#/definitions/RawPolicy"
 */
export function policySchema(): string {
  const schema = createGenerator({
    path: root("src/policy/raw.ts"),
    tsconfig: root("tsconfig.json"),
    type: "RawPolicy",
    // tsc checks these types already; the generator only reads them.
    skipTypeCheck: true,
  }).createSchema("RawPolicy");
  const { $schema, ...rest } = schema;
  const comment = "Generated from src/policy/raw.ts by `npm run schema`; do not edit by hand.";
  return `${JSON.stringify({ $schema, $comment: comment, ...rest }, null, 2)}\n`;
}

/**
 * Writes the schema, or with `--check` compares it with the committed file and returns 1 with
 * one line on stderr when they differ.
 *
 * @example
 * // $ node scripts/policy-schema.ts --check
 * // src/sluice.policy.schema.json is stale: run `npm run schema` and commit it
 */
export function main(args: readonly string[]): number {
  if (args.length > 1 || (args[0] !== undefined && args[0] !== "--check")) {
    process.stderr.write("usage: node scripts/policy-schema.ts [--check]\n");
    return 2;
  }
  const text = policySchema();
  if (args[0] === undefined) {
    writeFileSync(root(SCHEMA_FILE), text);
    return 0;
  }
  let committed = "";
  try {
    committed = readFileSync(root(SCHEMA_FILE), "utf8");
  } catch {
    // A missing file is stale too.
  }
  if (committed === text) return 0;
  process.stderr.write(`${SCHEMA_FILE} is stale: run \`npm run schema\` and commit it\n`);
  return 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
