// A new student's whole journey through the study app, in Debian's Chromium, against
// `flashforge serve` on the embedded defaults with the offline assistant — once on SQLite, once
// on Postgres (FLASHFORGE_TEST_POSTGRES_URL). Every step works through the page (clicks, keys,
// files), never through the API directly.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test, type TestContext } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { RunningServer } from "../../../tests/client-ts/src/server.js";
import { createPostgresDatabase, launch, postgresSkipped, ROOT, serveEmbedded, shoot, watchedPage } from "./browser.js";
import { accessibilityProblems, signIn, studyKeyLatency, unlabelledControls, waitFor } from "./steps.js";

const PASSWORD = "correct horse battery staple";
const PDF = path.join(ROOT, "tests/fixtures/pdf/single-column.pdf"); // 3 pages, markers pagetagsc001…003
const UNSAFE_NOTES = [
  "# Cell biology",
  "",
  'The mitochondrion is the powerhouse of the cell <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script> makes ATP.',
  "",
].join("\n");

let browser: Browser | undefined;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

// Short-lived access tokens: the journey lives through several silent refreshes.
const SHORT_TOKENS = { FLASHFORGE__AUTH__ACCESS_TOKEN_TTL_SECS: "20" };

test("a new student's whole journey in a real browser, on SQLite", { timeout: 15 * 60_000 }, async (t) => {
  const server = await serveEmbedded(SHORT_TOKENS);
  try {
    await journey(t, server);
  } finally {
    await server.stop();
  }
});

test("the same journey on Postgres", { timeout: 15 * 60_000, skip: postgresSkipped() }, async (t) => {
  const database = createPostgresDatabase();
  try {
    const server = await serveEmbedded({ ...SHORT_TOKENS, FLASHFORGE__DATABASE__URL: database.url });
    try {
      await journey(t, server);
    } finally {
      await server.stop();
    }
  } finally {
    database.drop();
  }
});

/** Every step of a new student's first day, through the page, on `server`. */
async function journey(t: TestContext, server: RunningServer): Promise<void> {
  const base = server.baseUrl;
  const context: BrowserContext = await (browser ?? assert.fail("no browser")).newContext({ viewport: { width: 1280, height: 860 } });
  const { page, problems } = await watchedPage(context);
  const username = `student_${Date.now().toString(36)}`;
  let chatId = "";
  let failed: string | undefined;
  const step = async (name: string, body: (page: Page, t: TestContext) => Promise<void>) => {
    await t.test(name, { timeout: 3 * 60_000, skip: failed ? `after the failed step "${failed}"` : false }, async (st) => {
      try {
        await body(page, st);
      } catch (error) {
        failed = name;
        await shoot(page, `failed-${name.split(":")[0]?.replace(/\W+/g, "-")}`).catch(() => undefined);
        console.error(`\n--- "${name}" failed at ${page.url()}; the server's log ---\n${server.log()}\n---`);
        throw error;
      }
    });
  };

  await step("sign up: a weak password gets the API's message next to the field", async (page) => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/signin/);
    await page.getByLabel("Username").waitFor();
    await shoot(page, "signin", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on signin");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    const error = page.locator("#password-error");
    await error.waitFor();
    assert.ok((await error.textContent())?.trim(), "the password's own message");
    assert.equal(await page.getByRole("alert").first().isVisible(), true, "the problem is announced");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(/\/chats$/);
    await page.getByText("No chats yet").waitFor();
  });

  await step("chats: create, list newest first, rename, archive, delete", async (page) => {
    for (const name of ["Scratch", "Memory and review"]) {
      await page.goto(`${base}/chats`);
      await page.getByLabel("New chat name").fill(name);
      await page.getByRole("button", { name: "Create chat" }).click();
      await page.waitForURL(/\/chats\/[0-9a-f-]+\/material$/);
      chatId = /\/chats\/([0-9a-f-]+)\//.exec(page.url())?.[1] ?? "";
    }
    await page.getByRole("link", { name: "Chats", exact: true }).first().click();
    const rows = page.locator('ul[aria-label="Chats"] > li');
    await waitFor(async () => (await rows.count()) === 2, "two chats listed");
    assert.match((await rows.nth(0).textContent()) ?? "", /Memory and review/, "newest activity first");
    await page.getByRole("button", { name: "Rename Scratch" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Scratch notes");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: "Scratch notes" }).waitFor();
    await page.getByRole("button", { name: "Archive Scratch notes" }).click();
    await waitFor(async () => (await rows.count()) === 1, "the archived chat leaves the list");
    await page.getByRole("button", { name: "Archived", exact: true }).click();
    await page.getByRole("link", { name: "Scratch notes" }).waitFor();
    await page.getByRole("button", { name: "Delete Scratch notes" }).click();
    await page.getByRole("button", { name: "Delete chat" }).click();
    await page.getByText("No archived chats.").waitFor();
    await page.getByRole("button", { name: "Active", exact: true }).click();
    await page.getByRole("link", { name: "Memory and review" }).waitFor();
    await shoot(page, "chats", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on chats");
    await page.goto(`${base}/chats/${chatId}/nope`);
    await page.getByRole("heading", { name: "Not found" }).waitFor();
    assert.equal(await page.title(), "Not found · FlashForge", "an unknown tab says so, in the tab's title too");
  });

  await step("material: upload by file chooser and by drag and drop, see progress, spot a duplicate", async (page) => {
    await page.goto(`${base}/chats/${chatId}/material`);
    await page.getByLabel("Upload files").setInputFiles(PDF);
    const notes = Buffer.from(UNSAFE_NOTES).toString("base64");
    const dropped = await page.evaluateHandle((b64) => {
      const transfer = new DataTransfer();
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], "cell-notes.md", { type: "text/markdown" }));
      return transfer;
    }, notes);
    await page.dispatchEvent(".drop", "drop", { dataTransfer: dropped });
    const uploads = page.locator('ul[aria-label="Uploads"] > li');
    await waitFor(async () => (await uploads.count()) === 2, "both uploads listed");
    assert.equal(await page.locator('ul[aria-label="Uploads"] progress').count() >= 1, true, "progress bars");
    const done = page.locator('ul[aria-label="Documents"] > li[data-status="completed"]');
    await waitFor(async () => (await done.count()) === 2, "both documents read", 180_000);
    assert.match((await done.filter({ hasText: "single-column.pdf" }).textContent()) ?? "", /ready · \d+ passages/);
    await page.getByLabel("Upload files").setInputFiles(PDF);
    await page.getByText("already uploaded").waitFor();
    await shoot(page, "material", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on material");
  });

  await step("ask: the answer streams in, renders Markdown safely, and cites its sources", async (page) => {
    const listed = page.waitForResponse((r) => r.url().endsWith("/api/v1/models"));
    await page.goto(`${base}/chats/${chatId}/ask`);
    await (await listed).finished();
    await page.getByLabel("Your question").waitFor();
    assert.equal(await page.getByLabel("Model", { exact: true }).count(), 0, "one model (the offline one): nothing to pick");
    await page.getByLabel("Your question").fill("Why does repetition make memories durable?");
    await page.keyboard.press("Enter");
    await page.locator(".message.assistant.streaming").waitFor();
    const chips = page.locator(".message.assistant .chip");
    await chips.first().waitFor({ timeout: 60_000 });
    await chips.first().click();
    const dialog = page.getByRole("dialog", { name: "Source" });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? "", /single-column\.pdf/);
    assert.ok(((await dialog.locator(".quote").textContent()) ?? "").length > 20, "the quoted passage");
    await shoot(page, "citation");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });

    await page.getByLabel("Your question").fill("What is the powerhouse of the cell, the mitochondrion?");
    await page.getByRole("button", { name: "Ask" }).click();
    await waitFor(async () => (await page.locator(".message.assistant:not(.streaming)").count()) === 2, "the second answer");
    const answers = await page.locator(".message.assistant .md").allTextContents();
    assert.ok(answers.some((a) => a.includes("onerror")), "the model's raw HTML shows as text");
    assert.equal(await page.locator(".messages img, .messages script").count(), 0, "and never becomes markup");
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);

    await page.locator(".message.assistant").last().getByRole("button", { name: "Regenerate" }).click();
    await page.locator(".message.assistant.streaming").waitFor({ state: "detached", timeout: 60_000 });
    await waitFor(async () => (await page.locator(".message.assistant:not(.streaming)").count()) === 2, "regenerated in place");
    await page.locator(".message.user").first().getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Edit your question").fill("How does spaced repetition help memory?");
    await page.getByRole("button", { name: "Send edited question" }).click();
    await waitFor(
      async () => ((await page.locator(".message.user").first().textContent()) ?? "").includes("How does spaced repetition help memory?"),
      "the edited question",
      60_000,
    );
    await shoot(page, "ask", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on ask");
  });

  await step("search: in the chat by words and by meaning, and across chats", async (page) => {
    await page.goto(`${base}/chats/${chatId}/search`);
    await page.getByLabel("Search this chat").fill("pagetagsc002");
    await page.getByLabel("Words").check();
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const hits = page.locator('ol[aria-label="Search results"] > li');
    await hits.first().waitFor();
    assert.equal(await hits.first().locator("mark").first().textContent(), "pagetagsc002");
    assert.match((await hits.first().textContent()) ?? "", /single-column\.pdf, (p\. 2|page 2)/);
    await page.getByLabel("Meaning").check();
    await page.getByLabel("Search this chat").fill("violinist ocean currents");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByText(/passages for “violinist ocean currents”/).waitFor();
    await page.goto(`${base}/search`);
    await page.getByLabel("Search all chats").fill("mitochondrion powerhouse");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await hits.first().waitFor();
    assert.match((await hits.first().textContent()) ?? "", /cell-notes\.md/);
    assert.equal(await hits.first().getByRole("link", { name: "open chat" }).getAttribute("href"), `/chats/${chatId}/ask`);
    await shoot(page, "search", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on search");
  });

  await step("cards: generate with a preview, keep some, create, edit, filter, see a source, delete", async (page) => {
    await page.goto(`${base}/chats/${chatId}/cards`);
    await page.getByRole("button", { name: "Generate cards…" }).click();
    const pdf = await page.locator("#gen-document option", { hasText: "single-column.pdf" }).getAttribute("value");
    await page.getByLabel("Document", { exact: true }).selectOption(pdf ?? assert.fail("the PDF is offered"));
    await page.getByLabel("How many cards").fill("4");
    await page.getByRole("button", { name: "Preview cards" }).click();
    const drafts = page.locator('ul[aria-label="Generated cards"] > li');
    await drafts.first().waitFor({ timeout: 60_000 });
    const made = await drafts.count();
    assert.ok(made >= 2, `at least two drafts, got ${made}`);
    await shoot(page, "generate", true);
    await drafts.first().getByLabel("Keep").uncheck();
    await page.getByRole("button", { name: `Save ${made - 1} cards` }).click();
    await page.getByText(`Saved ${made - 1} cards.`).waitFor();
    await page.keyboard.press("Escape");
    const cards = page.locator('ul[aria-label="Cards"] > li');
    await waitFor(async () => (await cards.count()) === made - 1, "the kept cards listed");

    await page.getByRole("button", { name: "New card" }).click();
    await page.getByLabel("Question", { exact: true }).fill("What is spaced repetition?");
    await page.getByLabel("Answer", { exact: true }).fill("Reviewing at **growing** intervals.");
    await page.getByLabel("Tags (separated by spaces)").fill("memory");
    await page.getByRole("button", { name: "Save card" }).click();
    await waitFor(async () => (await cards.count()) === made, "the new card listed");
    const mine = cards.filter({ hasText: "What is spaced repetition?" });
    assert.equal(await mine.locator("strong").textContent(), "growing", "the answer's Markdown rendered");
    await mine.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Answer", { exact: true }).fill("Reviewing just before you would forget.");
    await page.getByRole("button", { name: "Save card" }).click();
    await cards.filter({ hasText: "just before you would forget" }).waitFor();

    await page.getByLabel("Tag", { exact: true }).fill("memory");
    await page.getByRole("button", { name: "Filter" }).click();
    await waitFor(async () => (await cards.count()) === 1, "the tag filter");
    await page.getByLabel("Tag", { exact: true }).fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await waitFor(async () => (await cards.count()) === made, "all cards again");

    await cards.filter({ hasNotText: "spaced repetition" }).first().getByRole("button", { name: "Source" }).click();
    const source = page.getByRole("dialog", { name: "Where this card comes from" });
    await source.waitFor();
    assert.match((await source.textContent()) ?? "", /single-column\.pdf/);
    await page.keyboard.press("Escape");

    page.once("dialog", (d) => void d.accept());
    await mine.getByRole("button", { name: "Delete" }).click();
    await waitFor(async () => (await cards.count()) === made - 1, "the card deleted");
    await shoot(page, "cards", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on cards");
  });

  await step("cards from one cited passage, and from text selected in an answer", async (page) => {
    await page.goto(`${base}/chats/${chatId}/ask`);
    await page.locator(".message.assistant .chip").first().click();
    await page.getByRole("link", { name: "Make cards from this passage" }).click();
    await page.waitForURL(/\/cards\?chunk=/);
    assert.equal(await page.getByLabel("a passage").isChecked(), true, "the passage is the source");
    await page.getByRole("button", { name: "Preview cards" }).click();
    await page.locator('ul[aria-label="Generated cards"] > li').first().waitFor({ timeout: 60_000 });
    await page.keyboard.press("Escape");

    await page.goto(`${base}/chats/${chatId}/ask`);
    const quote = page.locator(".message.assistant .md blockquote").first();
    await quote.waitFor();
    await quote.evaluate((node) => {
      const range = document.createRange();
      range.selectNodeContents(node);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
    });
    await quote.dispatchEvent("mouseup");
    await page.getByRole("link", { name: "Make cards from the selected text" }).click();
    await page.waitForURL(/\/cards\?text=/);
    assert.equal(await page.getByLabel("pasted text").isChecked(), true, "the selection is the source");
    assert.ok(((await page.getByLabel("Text", { exact: true }).last().inputValue()) ?? "").length > 20, "the selected text, filled in");
    await page.getByRole("button", { name: "Preview cards" }).click();
    await page.locator('ul[aria-label="Generated cards"] > li').first().waitFor({ timeout: 60_000 });
    await page.keyboard.press("Escape");
  });

  await step("study: space reveals, keys rate with no wait for the network, u undoes, then done", async (page) => {
    await page.goto(`${base}/study?chat=${chatId}`);
    const card = page.locator("article.flashcard");
    await card.waitFor();
    assert.equal(await page.title(), "Study · FlashForge", "each page names itself in the tab");
    assert.match((await page.getByLabel("Left today").textContent()) ?? "", /\d+ new/);
    const first = await card.getAttribute("data-card");
    await page.keyboard.press(" ");
    await page.getByRole("group", { name: "How well did you remember?" }).waitFor();
    const good = (await page.getByRole("button", { name: /Good/ }).textContent()) ?? "";
    assert.match(good, /\d+ (s|min|h|d|mo|y)/, `the next interval on the button: ${good}`);
    await shoot(page, "study", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on study");

    // Every review answers only after two seconds: the next card must still show at once.
    await page.route("**/api/v1/flashcards/*/reviews", async (route) => {
      await new Promise((r) => setTimeout(r, 2000));
      await route.continue();
    });
    const latency = await studyKeyLatency(page, "3");
    assert.ok(latency.changed, "a new card shows after the key");
    assert.ok(latency.frames <= 1, `the next card showed within one frame (${latency.frames} frames, ${latency.ms.toFixed(1)} ms)`);
    console.log(`# key press to next card: ${latency.ms.toFixed(1)} ms, ${latency.frames} frame(s), while the review was still on its way`);
    await page.unrouteAll({ behavior: "wait" });

    await page.keyboard.press("u");
    await waitFor(async () => (await card.getAttribute("data-card")) === first, "undo brings the card back");
    for (let i = 0; i < 40 && (await card.count()) > 0; i++) {
      await page.keyboard.press(" ");
      await page.getByRole("group", { name: "How well did you remember?" }).waitFor();
      await page.keyboard.press("4");
      await page.waitForTimeout(50);
    }
    await page.getByText("All done for now").waitFor({ timeout: 30_000 });
    await shoot(page, "study-done");
  });

  await step("stats: today's reviews, the forecast, retention", async (page) => {
    await page.goto(`${base}/stats`);
    const reviewed = page.locator(".tiles div", { hasText: "Reviewed today" }).locator("dd");
    await reviewed.waitFor();
    assert.ok(Number(await reviewed.textContent()) > 0, "reviews counted");
    await page.locator("figcaption", { hasText: "Due in the days ahead" }).waitFor();
    await shoot(page, "stats", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on stats");
  });

  await step("decks: export CSV and Anki, import CSV", async (page) => {
    await page.goto(`${base}/chats/${chatId}/cards`);
    const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    assert.match(csv.suggestedFilename(), /\.csv$/);
    const text = readFileSync((await csv.path()) ?? "", "utf8");
    assert.equal(text.split(/\r?\n/)[0], "question,answer,tags,type");
    const [apkg] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export Anki" }).click()]);
    assert.match(apkg.suggestedFilename(), /\.apkg$/);
    assert.equal(readFileSync((await apkg.path()) ?? "").subarray(0, 2).toString(), "PK", "a zip");
    const apkgBytes = readFileSync((await apkg.path()) ?? "");
    await page.getByLabel("Import a deck").setInputFiles({
      name: "deck.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("question,answer,tags\nWhat makes ATP?,Mitochondria,cells\n,no question,\n"),
    });
    await page.getByText(/Imported 1 card; 1 left out \(row 2/).waitFor();

    // The Anki package, imported into a chat of its own, gives back every card.
    await page.goto(`${base}/chats`);
    await page.getByLabel("New chat name").fill("From Anki");
    await page.getByRole("button", { name: "Create chat" }).click();
    await page.waitForURL(/\/material$/);
    await page.goto(page.url().replace(/material$/, "cards"));
    await page.getByText("No cards here yet").waitFor();
    await page.getByLabel("Import a deck").setInputFiles({ name: "deck.apkg", mimeType: "application/octet-stream", buffer: apkgBytes });
    const imported = page.getByText(/^Imported \d+ cards?/);
    await imported.waitFor({ timeout: 60_000 });
    const count = Number(/Imported (\d+)/.exec((await imported.textContent()) ?? "")?.[1]);
    assert.ok(count >= 1, "cards imported from the package");
    await waitFor(async () => (await page.locator('ul[aria-label="Cards"] > li').count()) === count, "the imported cards listed");
  });

  await step("sessions: silent refresh, a reload keeps you in, sign out everywhere", async (page) => {
    await page.goto(`${base}/account`);
    await page.waitForRequest((r) => r.url().endsWith("/api/v1/auth/refresh"), { timeout: 30_000 });
    await page.getByRole("link", { name: "Stats" }).click();
    await page.getByText("Reviewed today").waitFor();
    await page.reload();
    await page.getByText("Reviewed today").waitFor();
    const other = await (browser ?? assert.fail("no browser")).newContext({ viewport: { width: 390, height: 844 } });
    const phone = await watchedPage(other);
    await signIn(phone.page, base, username, PASSWORD);
    const wide = await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(wide <= 0, `nothing wider than a phone (${wide}px too wide)`);
    await shoot(phone.page, "phone-chats", true);
    await page.goto(`${base}/account`);
    const sessions = page.locator('ul[aria-label="Sessions"] > li');
    await waitFor(async () => (await sessions.count()) === 2, "two sessions listed");
    assert.equal(await unlabelledControls(page), "", "every control has a label");
    await shoot(page, "account", true);
    assert.equal(await accessibilityProblems(page), "", "axe: no serious accessibility problem on account");
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    await page.waitForURL(/\/signin/);
    await phone.page.reload();
    await phone.page.waitForURL(/\/signin/);
    assert.deepEqual(phone.problems.filter(real), []);
    await other.close();
  });

  await step("keyboard only: sign in with Tab and Enter", async (page) => {
    await page.goto(`${base}/signin`);
    await page.getByLabel("Username").focus();
    await page.keyboard.type(username);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/chats$/);
    assert.equal(await unlabelledControls(page), "", "every control has a label");
  });

  assert.deepEqual(problems.filter(real), [], "no page errors, console errors or CSP violations");
  await context.close();
}

/** The browser logs every 4xx answer as a console error; those are expected here. */
function real(problem: string): boolean {
  return !/Failed to load resource: the server responded with a status of 4\d\d/.test(problem);
}
