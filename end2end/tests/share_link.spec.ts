import { test, expect } from "@playwright/test";
import { fillSignIn, metricsOnPage, panelReady, signIn, VIEWER } from "./helpers";

test("a shared link reproduces the same metrics in a fresh browser", async ({ page, browser }) => {
  await signIn(page, VIEWER);
  await page.goto("/backtest");
  await panelReady(page);
  await page.fill("input[name=fee_bps]", "25");
  await page.locator("input[name=fee_bps]").press("Tab");
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  const mine = await metricsOnPage(page);
  await page.click("#copy-link");
  const link = await page.locator("#share-url").inputValue();
  expect(link).toContain("/backtest?s=1.");

  // A fresh browser is not signed in: the link takes it through the sign-in page and back.
  const other = await browser.newContext();
  const theirs = await other.newPage();
  await theirs.goto(link);
  await expect(theirs).toHaveURL(/\/login\?next=\/backtest%3Fs%3D1\./);
  await fillSignIn(theirs, VIEWER);
  await expect(theirs).toHaveURL(link);
  await expect(theirs.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  expect(await metricsOnPage(theirs)).toEqual(mine);
  await expect(theirs.locator("#link-warning")).toHaveCount(0);
  await other.close();
});

test("a tampered link gets an error message, not a crash", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, VIEWER);
  await page.goto("/backtest?s=1.definitely-not-a-state");
  await expect(page.locator("#link-error")).toContainText("truncated or was altered");
  await page.goto("/backtest?s=7.abc");
  await expect(page.locator("#link-error")).toContainText("newer dashboard");
  expect(errors).toEqual([]);
});
