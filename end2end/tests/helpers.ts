import { Page, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";

// Set by `./x test`: the users it created in the throwaway database, and how to run the CLI on it.
export const TRADER = { user: "trader", password: process.env.LOCKSTEP_E2E_PASSWORD ?? "" };
export const VIEWER = { user: "viewer", password: process.env.LOCKSTEP_E2E_PASSWORD ?? "" };

/** Opens the sign-in page and signs in. */
export async function signIn(page: Page, who: { user: string; password: string }) {
  await page.goto("/login");
  await fillSignIn(page, who);
}

/**
 * Signs in on the sign-in page the browser is on (e.g. where a page that needs a sign-in sent
 * it, with `?next=`); the page then goes on by itself.
 */
export async function fillSignIn(page: Page, who: { user: string; password: string }) {
  // Typed values only reach the app once it has hydrated (the button is disabled until then).
  await expect(page.locator("#sign-in")).toBeEnabled();
  await page.fill("input[name=username]", who.user);
  await page.fill("input[name=password]", who.password);
  // The server allows 30 sign-in attempts a minute per address (and 5 failures per user and
  // address): should the suite ever run into the limit, it waits the time the answer names.
  const signedIn = page.locator("#signed-in-as");
  const limited = page.locator("#signin-error", { hasText: "too many sign-in attempts" });
  for (let attempt = 1; ; attempt++) {
    await page.click("#sign-in");
    await expect(signedIn.or(limited)).toBeVisible();
    // Signed in — and, with `?next=`, maybe already on the way to the next page.
    if (!(await limited.isVisible())) break;
    expect(attempt, "still rate-limited after 5 attempts").toBeLessThan(5);
    const secs = Number((await limited.textContent())?.match(/try again in (\d+) s/)?.[1] ?? 12);
    await page.waitForTimeout((secs + 1) * 1000);
  }
  await expect(signedIn).toContainText(who.user);
}

/** Collects the browser's Content-Security-Policy complaints (console errors), to assert none. */
export function cspViolations(page: Page): string[] {
  const found: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) found.push(m.text());
  });
  return found;
}

/** Waits until the page's WebAssembly app has downloaded and decoded the panel. */
export async function panelReady(page: Page) {
  await expect(page.locator("#panel-status[data-ready=true]")).toBeVisible({ timeout: 60_000 });
}

/** The metrics table as numbers, exactly as printed (`data-exact`). */
export async function metricsOnPage(page: Page): Promise<Record<string, number>> {
  return page.$$eval("#metrics tr[data-metric]", (rows) =>
    Object.fromEntries(
      rows.map((r) => [r.getAttribute("data-metric")!, Number(r.querySelector("td[data-exact]")!.getAttribute("data-exact"))]),
    ),
  );
}

/** `lockstep backtest` on the server's own store, default config: the native reference. */
export function nativeBacktest(): Record<string, number> {
  const bin = process.env.LOCKSTEP_BIN!;
  const db = process.env.LOCKSTEP_DB!;
  const out = execFileSync(bin, ["backtest", "--database-url", db, "--out", "-"], { maxBuffer: 1 << 30 });
  return JSON.parse(out.toString()).metrics;
}
