import { test, expect } from "@playwright/test";
import { metricsOnPage, nativeBacktest, panelReady, signIn, VIEWER } from "./helpers";

test.beforeEach(async ({ page }) => signIn(page, VIEWER));

test("the default backtest in the browser equals `lockstep backtest` to the last digit", async ({ page }) => {
  await page.goto("/backtest");
  await panelReady(page);
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  const wasm = await metricsOnPage(page);
  const native = nativeBacktest();
  expect(Object.keys(wasm).length).toBeGreaterThan(8);
  for (const [key, value] of Object.entries(wasm)) {
    // NaN prints as null in JSON and as "NaN" on the page.
    if (native[key] === null) expect(Number.isNaN(value)).toBeTruthy();
    else expect(value, key).toBe(native[key]);
  }
  await expect(page.locator("#equity-chart canvas")).toBeVisible();
  await page.screenshot({ path: "screenshots/backtest.png", fullPage: true });
});

test("a bad param gets a message naming its JSON path, and Run is disabled", async ({ page }) => {
  await page.goto("/backtest");
  await panelReady(page);
  await page.locator("tr", { hasText: "beta" }).locator("button.link").click();
  const input = page.locator("input[name='beta.beta_window']");
  await input.fill("1");
  await input.press("Tab");
  await expect(page.locator("#config-error")).toContainText("params.beta.beta_window");
  await expect(page.locator("#run-backtest")).toBeDisabled();
});
