// Fails when src/schema.d.ts is not what `npm run generate` makes of docs/openapi.json now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const committed = path.join(here, "../src/schema.d.ts");
const dir = mkdtempSync(path.join(tmpdir(), "flashforge-schema-"));
const fresh = path.join(dir, "schema.d.ts");
try {
  execFileSync(process.execPath, [path.join(here, "generate.mjs"), fresh], { stdio: "inherit" });
  if (readFileSync(committed, "utf8") === readFileSync(fresh, "utf8")) {
    console.log("src/schema.d.ts is up to date with docs/openapi.json");
  } else {
    try {
      execFileSync("diff", ["-u", committed, fresh], { stdio: "inherit" });
    } catch {
      // diff exits 1 when the files differ; its output is the point.
    }
    console.error("src/schema.d.ts is stale: run `npm run generate` in tests/client-ts and commit it");
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
