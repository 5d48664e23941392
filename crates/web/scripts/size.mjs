// Prints the first load's size (every JS and CSS file index.html loads: raw, gzip and brotli)
// and fails when its gzip size passes the budget (200 KB).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const BUDGET = 200 * 1024;
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");
const html = readFileSync(path.join(dist, "index.html"), "utf8");
const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
if (files.length === 0) throw new Error("index.html loads no JS or CSS from /assets/");
let total = { raw: 0, gzip: 0, brotli: 0 };
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const file of files) {
  const bytes = readFileSync(path.join(dist, file));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  total = { raw: total.raw + bytes.length, gzip: total.gzip + gzip, brotli: total.brotli + brotli };
  console.log(`  ${file.padEnd(36)} ${kb(bytes.length).padStart(10)} raw ${kb(gzip).padStart(10)} gzip ${kb(brotli).padStart(10)} brotli`);
}
console.log(`first load (JS + CSS): ${kb(total.raw)} raw, ${kb(total.gzip)} gzip, ${kb(total.brotli)} brotli (budget ${kb(BUDGET)} compressed)`);
if (total.gzip > BUDGET) {
  console.error(`the first load is over budget: ${kb(total.gzip)} gzip > ${kb(BUDGET)}`);
  process.exit(1);
}
