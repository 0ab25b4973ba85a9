/** @module tools/main — is this module the process's entry script? */
import { realpathSync } from "node:fs";

/**
 * True when `moduleFile` (pass `import.meta.filename`) is the script Node was started with,
 * so a tool file can be both imported and run as a CLI.
 *
 * @example
 * if (isMain(import.meta.filename)) await cli();
 */
export function isMain(moduleFile: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === moduleFile;
  } catch {
    return false;
  }
}
