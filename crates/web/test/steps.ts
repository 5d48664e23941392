// Steps the browser tests share.
import type { Page } from "playwright-core";

/** Polls `probe` until true, failing with `what` after `timeoutMs`. */
export async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function signIn(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/chats$/);
}

/**
 * Presses `key` inside the page and measures until the study card on screen changed: the time,
 * and how many animation frames were painted before it did (0: within the key's own frame).
 */
export async function studyKeyLatency(page: Page, key: string): Promise<{ changed: boolean; frames: number; ms: number }> {
  return page.evaluate(async (pressed) => {
    const card = () => document.querySelector("article.flashcard")?.getAttribute("data-card") ?? null;
    const before = card();
    const start = performance.now();
    window.dispatchEvent(new KeyboardEvent("keydown", { key: pressed, bubbles: true }));
    let frames = 0;
    while (card() === before && frames < 120) {
      await new Promise((r) => requestAnimationFrame(r));
      frames += 1;
    }
    // A frame ran before the check above when the card changed in a microtask: count the change
    // as in the key's frame only if it happened before the first frame.
    return { changed: card() !== before, frames, ms: performance.now() - start };
  }, key);
}

/** The form controls with no accessible name, described; "" when every one has one. */
export async function unlabelledControls(page: Page): Promise<string> {
  return page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => {
        const control = el as HTMLInputElement;
        if (control.type === "hidden") return false;
        const named = (control.labels?.length ?? 0) > 0 || control.getAttribute("aria-label") || control.getAttribute("aria-labelledby");
        const text = el.tagName === "BUTTON" && (el.textContent ?? "").trim();
        return !named && !text;
      })
      .map((el) => el.outerHTML.slice(0, 80))
      .join("\n"),
  );
}
