import { test, expect } from "@playwright/test";
import { cspViolations, signIn, VIEWER } from "./helpers";

test.beforeEach(async ({ page }) => signIn(page, VIEWER));

test("a 2-D sweep runs in workers to completion and draws its heat map", async ({ page }) => {
  // The workers load the WASM bundle under the same policy as the page.
  const csp = cspViolations(page);
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  // A small grid keeps the suite quick on two cores.
  await page.fill("input[name=axis0-steps]", "4");
  await page.locator("input[name=axis0-steps]").press("Tab");
  await page.fill("input[name=axis1-steps]", "3");
  await page.locator("input[name=axis1-steps]").press("Tab");
  await page.click("#run-sweep");
  await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout: 120_000 });
  await expect(page.locator("#sweep-table tbody tr")).toHaveCount(12);
  await expect(page.locator("#sweep-heatmap canvas")).toBeVisible();
  expect(csp).toEqual([]);
  await page.screenshot({ path: "screenshots/sweep.png", fullPage: true });
  // A cell opens as a backtest.
  await page.locator("#sweep-table tbody tr").first().click();
  await expect(page).toHaveURL(/\/backtest\?s=1\./);
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
});

test("a running sweep can be cancelled", async ({ page }) => {
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  // Large enough that the click on Cancel lands while it runs: with the pool warm at page load
  // a few hundred points finish in under half a second.
  await page.fill("input[name=axis0-steps]", "200");
  await page.locator("input[name=axis0-steps]").press("Tab");
  await page.fill("input[name=axis1-steps]", "50");
  await page.locator("input[name=axis1-steps]").press("Tab");
  await page.click("#run-sweep");
  await page.click("#cancel-sweep");
  await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "cancelled");
  await expect(page.locator("#sweep-status")).toContainText("Cancelled after");
});
