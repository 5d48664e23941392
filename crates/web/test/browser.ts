// The browser side of the web app's tests: Debian's Chromium driven by playwright-core (no
// browser download), one page per test with every console error, page error and CSP violation
// recorded, and screenshots written to crates/web/test-results (committed copies: docs/img).
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { repoRoot, startServer, type RunningServer } from "../../../tests/client-ts/src/server.js";

export const ROOT = repoRoot();
export const RESULTS = path.join(ROOT, "crates/web/test-results");
/** Screenshots also copied to docs/img when this is set (`UPDATE_SCREENSHOTS=1 make web-test`). */
const UPDATE_DOCS = process.env["UPDATE_SCREENSHOTS"] === "1";

/** Chromium: CHROMIUM_PATH, else Debian's. */
export async function launch(): Promise<Browser> {
  const executablePath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/**
 * `flashforge serve` on the embedded defaults: SQLite and files in a temp folder, the local
 * all-MiniLM-L6-v2 embedder, the embedded vector index, and the offline assistant.
 */
export function serveEmbedded(env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer({
    timeoutMs: 60_000,
    env: {
      FLASHFORGE__EMBEDDING__PROVIDER: "local",
      FLASHFORGE__EMBEDDING__MODEL_DIR: path.join(ROOT, "models/all-MiniLM-L6-v2"),
      FLASHFORGE__VECTOR__PROVIDER: "embedded",
      FLASHFORGE__VECTOR__DIR: "index",
      FLASHFORGE__LLM__PROVIDER: "offline",
      ...env,
    },
  });
}

/** What went wrong in the page: console errors, uncaught errors, CSP violations. */
export interface Watched {
  page: Page;
  problems: string[];
}

export async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return { page, problems };
}

/** A screenshot in test-results (and docs/img with UPDATE_SCREENSHOTS=1). */
export async function shoot(page: Page, name: string, docs = false): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  if (docs && UPDATE_DOCS) copyFileSync(file, path.join(ROOT, "docs/img", `${name}.png`));
}
