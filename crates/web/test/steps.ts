// Steps the browser tests share.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
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
    // frames = 1: the card changed before the first frame after the key was painted.
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

/**
 * The accessibility problems axe-core finds on the page as it is (WCAG 2.2 A and AA rules:
 * names, labels, contrast, landmarks…), described; "" when none is serious or critical.
 * axe runs through the DevTools protocol, so the page's CSP does not have to allow it.
 */
export async function accessibilityProblems(page: Page): Promise<string> {
  const source = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const problems: string[] = [];
  // Both colour schemes: the dark one has its own colours to keep readable.
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
      const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
    });
    problems.push(
      ...violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${scheme}: ${v.id} (${v.impact}): ${v.help} — ${v.targets.join(", ")}`),
    );
  }
  await page.emulateMedia({ colorScheme: "light" });
  return problems.join("\n");
}
