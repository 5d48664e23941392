// Picking a model: with an OpenAI-compatible provider that offers several (a protocol-level mock
// on loopback: GET /v1/models, streamed POST /v1/chat/completions), the Ask tab offers them, and
// the answer comes from the one picked.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import type { RunningServer } from "../../../tests/client-ts/src/server.js";
import { launch, serveEmbedded, watchedPage } from "./browser.js";

const MODELS = ["tutor-small", "tutor-large"];

/** The mock provider; `asked` lists the model of every chat completion it was sent. */
async function provider(): Promise<{ url: string; server: Server; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: MODELS.map((id) => ({ id, object: "model" })) }));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions") {
        const body = JSON.parse(raw) as { model: string; stream?: boolean };
        asked.push(body.model);
        const text = `This answer comes from **${body.model}**.`;
        const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };
        if (body.stream) {
          res.writeHead(200, { "Content-Type": "text/event-stream" });
          for (const piece of ["This answer comes ", `from **${body.model}**.`]) {
            res.write(`data: ${JSON.stringify({ model: body.model, choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
          }
          res.write(`data: ${JSON.stringify({ model: body.model, choices: [], usage })}\n\n`);
          res.end("data: [DONE]\n\n");
        } else {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ model: body.model, choices: [{ index: 0, message: { role: "assistant", content: text } }], usage }));
        }
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server, asked };
}

let browser: Browser | undefined;
let mock: Awaited<ReturnType<typeof provider>> | undefined;
let api: RunningServer | undefined;

before(async () => {
  mock = await provider();
  api = await serveEmbedded({
    FLASHFORGE__LLM__PROVIDER: "openai",
    FLASHFORGE__LLM__BASE_URL: mock.url,
    FLASHFORGE__LLM__MODEL: "tutor-small",
    FLASHFORGE__LLM__API_KEY: "sk-test-web",
    FLASHFORGE__LLM__MAX_RETRIES: "0",
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await api?.stop();
  mock?.server.close();
});

test("several models offered: the Ask tab lets the student pick one, and the answer comes from it", { timeout: 3 * 60_000 }, async () => {
  const base = api?.baseUrl ?? assert.fail("no server");
  const context = await (browser ?? assert.fail("no browser")).newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${base}/signup`);
  await page.getByLabel("Username").fill(`models_${Date.now().toString(36)}`);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/chats$/);
  await page.getByLabel("New chat name").fill("Models");
  await page.getByRole("button", { name: "Create chat" }).click();
  await page.waitForURL(/\/material$/);
  await page.goto(page.url().replace(/material$/, "ask"));

  const picker = page.getByLabel("Model", { exact: true });
  await picker.waitFor();
  const offered = await picker.locator("option").allTextContents();
  assert.deepEqual(offered, ["tutor-small (default)", "tutor-large"]);
  await picker.selectOption("tutor-large");
  await page.getByLabel("Your question").fill("Which model answers?");
  await page.getByRole("button", { name: "Ask" }).click();
  const answer = page.locator(".message.assistant:not(.streaming)").last();
  await answer.locator("strong", { hasText: "tutor-large" }).waitFor({ timeout: 60_000 });
  assert.match((await answer.textContent()) ?? "", /tutor-large/, "the model is named under the answer");
  assert.ok(mock?.asked.includes("tutor-large"), `the provider was asked for the picked model: ${mock?.asked.join(", ")}`);

  await picker.selectOption("");
  await page.getByLabel("Your question").fill("And by default?");
  await page.getByRole("button", { name: "Ask" }).click();
  await page.locator(".message.assistant:not(.streaming) strong", { hasText: "tutor-small" }).waitFor({ timeout: 60_000 });
  assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), []);
  await context.close();
});
