import { test, expect } from "@playwright/test";
import { TRADER, VIEWER, fillSignIn, metricsOnPage, panelReady, signIn } from "./helpers";

// Named team links: "Save team link" stores the page's state on the server; `/s/<id>` opens it
// for any signed-in member of the team, with the same numbers (a visitor who is not signed in
// signs in first and is brought back to the link; see docs/security.md).

test("a saved team link reproduces the same metrics in a fresh browser", async ({ page, browser }) => {
  await signIn(page, VIEWER); // viewers may save links too: a link changes nothing in the book
  await page.goto("/backtest");
  await panelReady(page);
  await page.fill("input[name=fee_bps]", "30");
  await page.locator("input[name=fee_bps]").press("Tab");
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  const mine = await metricsOnPage(page);

  await page.fill("#team-link-name", "Fees at 30 bps");
  await expect(page.locator("#save-team-link")).toBeEnabled();
  await page.click("#save-team-link");
  const link = await page.locator("#team-link-url").inputValue();
  expect(link).toMatch(/\/s\/[0-9A-Za-z]{12}$/);
  await page.locator(".card").first().screenshot({ path: "screenshots/team-link.png" });

  // The long link of the same state, for comparison: the short one must land on exactly it.
  await page.click("#copy-link");
  const long = await page.locator("#share-url").inputValue();

  const other = await browser.newContext();
  const theirs = await other.newPage();
  await theirs.goto(link);
  await expect(theirs).toHaveURL(/\/login\?next=\/s\/[0-9A-Za-z]{12}$/);
  await fillSignIn(theirs, TRADER);
  await expect(theirs).toHaveURL(long);
  await expect(theirs.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  expect(await metricsOnPage(theirs)).toEqual(mine);
  await expect(theirs.locator("#link-warning")).toHaveCount(0);
  await other.close();

  // The team's list has it, newest first.
  const list = await page.evaluate(async () => (await fetch("/api/links")).json());
  expect(list[0].name).toBe("Fees at 30 bps");
  expect(list[0].kind).toBe("backtest");
  expect(link.endsWith(list[0].path)).toBe(true);
});

test("a sweep team link restores the grid", async ({ page, browser }) => {
  await signIn(page, TRADER);
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  await page.fill("input[name=axis0-steps]", "5");
  await page.locator("input[name=axis0-steps]").press("Tab");
  await page.fill("#team-link-name", "Vol window × 5");
  await page.click("#save-team-link");
  const link = await page.locator("#team-link-url").inputValue();
  expect(link).toMatch(/\/s\/[0-9A-Za-z]{12}$/);

  const other = await browser.newContext();
  const theirs = await other.newPage();
  await theirs.goto(link);
  await fillSignIn(theirs, VIEWER);
  await expect(theirs).toHaveURL(/\/sweep\?s=1\./);
  await expect(theirs.locator("input[name=axis0-steps]")).toHaveValue("5");
  await other.close();
});

test("an unknown team link gets a clear 404 page", async ({ page }) => {
  await signIn(page, VIEWER);
  const resp = await page.goto("/s/AAAAAAAAAAAA");
  expect(resp?.status()).toBe(404);
  await expect(page.locator("h1")).toHaveText("Team link not found");
  await expect(page.locator("#team-link-missing")).toContainText("/s/AAAAAAAAAAAA");
  await page.screenshot({ path: "screenshots/team-link-404.png" });
});
