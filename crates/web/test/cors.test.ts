// The app served from another origin (a static file server on another port, as a CDN or a
// separate web host would serve dist/) calls the API across origins: it works when the API
// allows that origin (CORS), and fails readably when it does not.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import type { RunningServer } from "../../../tests/client-ts/src/server.js";
import { launch, ROOT, serveEmbedded, shoot, watchedPage } from "./browser.js";
import { waitFor } from "./steps.js";

const DIST = path.join(ROOT, "crates/web/dist");
const TYPES: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html" };

/** dist/ over HTTP on a free port; index.html names `api` as the API's origin. */
async function staticHost(api: () => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const asset = url.pathname.startsWith("/assets/") ? path.join(DIST, path.normalize(url.pathname)) : undefined;
    if (asset && asset.startsWith(DIST)) {
      try {
        const body = readFileSync(asset);
        res.writeHead(200, { "Content-Type": TYPES[path.extname(asset)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    const html = readFileSync(path.join(DIST, "index.html"), "utf8").replace(
      "<head>",
      `<head><meta name="flashforge-api" content="${api()}">`,
    );
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let browser: Browser | undefined;
let host: { origin: string; server: Server } | undefined;
let api: RunningServer | undefined;
let closed: RunningServer | undefined;
let target = "";

before(async () => {
  browser = await launch();
  host = await staticHost(() => target);
  api = await serveEmbedded({ FLASHFORGE__SERVER__CORS_ALLOWED_ORIGINS: host.origin });
  closed = await serveEmbedded();
});

after(async () => {
  await browser?.close();
  host?.server.close();
  await api?.stop();
  await closed?.stop();
});

test("the app on another origin signs up and works across origins when the API allows it", { timeout: 5 * 60_000 }, async () => {
  const origin = host?.origin ?? assert.fail("no static host");
  target = api?.baseUrl ?? assert.fail("no API");
  const context = await (browser ?? assert.fail("no browser")).newContext();
  const { page, problems } = await watchedPage(context);
  const crossed: string[] = [];
  page.on("request", (r) => {
    if (r.url().startsWith(target)) crossed.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  await page.goto(`${origin}/signup`);
  await page.getByLabel("Username").fill(`cors_${Date.now().toString(36)}`);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${origin}/chats`);
  await page.getByLabel("New chat name").fill("Across origins");
  await page.getByRole("button", { name: "Create chat" }).click();
  await page.waitForURL(/\/chats\/[0-9a-f-]+\/material$/);
  await page.goto(`${origin}/chats`);
  await page.getByRole("link", { name: "Across origins" }).waitFor();
  await shoot(page, "cors-chats");
  assert.ok(crossed.includes("POST /api/v1/auth/register"), `the API was called on its own origin: ${crossed.join(", ")}`);
  assert.ok(crossed.includes("GET /api/v1/chats"));
  assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), []);
  await context.close();
});

test("without the origin allowed, the browser refuses the answers and the app says it cannot reach the server", { timeout: 2 * 60_000 }, async () => {
  const origin = host?.origin ?? assert.fail("no static host");
  target = closed?.baseUrl ?? assert.fail("no API");
  const context = await (browser ?? assert.fail("no browser")).newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${origin}/signup`);
  await page.getByLabel("Username").fill(`nocors_${Date.now().toString(36)}`);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText("The server could not be reached").waitFor();
  assert.ok(page.url().endsWith("/signup"), "still on the sign-up page");
  await waitFor(async () => problems.some((p) => /CORS/i.test(p)), "the browser's CORS refusal in the console");
  await context.close();
});
