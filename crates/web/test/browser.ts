// The browser side of the web app's tests: Debian's Chromium driven by playwright-core (no
// browser download), one page per test with every console error, page error and CSP violation
// recorded, and screenshots written to crates/web/test-results (committed copies: docs/img).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
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

/** The Postgres server's admin database, as the Rust tests take it (FLASHFORGE_TEST_POSTGRES_URL). */
const POSTGRES_ADMIN = process.env["FLASHFORGE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Runs one statement (or query) with psql on `url`; its output. */
function psql(url: string, sql: string): string {
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], {
    encoding: "utf8",
    env: { ...process.env, PGCONNECT_TIMEOUT: "5" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/**
 * Why the Postgres runs are skipped (Postgres does not answer, or there is no psql), or false
 * when they run. Like the Rust tests, FLASHFORGE_REQUIRE_POSTGRES=1 turns a skip into a failure.
 */
export function postgresSkipped(): string | false {
  try {
    psql(POSTGRES_ADMIN, "SELECT 1");
    return false;
  } catch (error) {
    const why = `Postgres does not answer at ${POSTGRES_ADMIN} through psql (${String(error).split("\n")[0]})`;
    if (process.env["FLASHFORGE_REQUIRE_POSTGRES"] === "1") throw new Error(`${why}, and FLASHFORGE_REQUIRE_POSTGRES=1`);
    return why;
  }
}

/** A new database (`ff_test_web_…`, which CI clears if a killed run leaves it) and its URL. */
export function createPostgresDatabase(): { url: string; drop: () => void } {
  const name = `ff_test_web_${randomBytes(8).toString("hex")}`;
  psql(POSTGRES_ADMIN, `CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => {
      psql(POSTGRES_ADMIN, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
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
