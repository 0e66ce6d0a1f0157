import { test, expect } from "@playwright/test";
import { panelReady, signIn, VIEWER } from "./helpers";

test.beforeEach(async ({ page }) => signIn(page, VIEWER));

test("the Backtest form's venue picks the universe the run trades, and a link keeps it", async ({ page }) => {
  await page.goto("/backtest");
  await panelReady(page);
  await expect(page.locator("select[name=venue]")).toHaveValue("any");
  await page.selectOption("select[name=venue]", "hyperliquid");
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  // The fixtures may or may not hold Hyperliquid listings: either way the line names the venue.
  await expect(page.locator("#run-universe")).toContainText("hyperliquid:");
  const universe = (await page.locator("#run-universe").textContent()) ?? "";
  await page.click("#copy-link");
  const link = await page.locator("#share-url").inputValue();

  const other = await page.context().newPage();
  await other.goto(link);
  await expect(other.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await expect(other.locator("select[name=venue]")).toHaveValue("hyperliquid");
  await expect(other.locator("#run-universe")).toHaveText(universe);
  await expect(other.locator("#link-universe")).toContainText("hyperliquid:");

  // Back to any venue: the line says so.
  await other.selectOption("select[name=venue]", "any");
  await other.click("#run-backtest");
  await expect(other.locator("#run-universe")).toContainText("any venue", { timeout: 60_000 });
});

test("the Sweep page's venue is its base config's", async ({ page }) => {
  await page.goto("/sweep");
  await panelReady(page);
  await expect(page.locator("#sweep-universe")).toContainText("any venue");
  await page.selectOption("select[name=venue]", "hyperliquid");
  await expect(page.locator("#sweep-universe")).toContainText("hyperliquid:", { timeout: 60_000 });
});

test("a calibrated config runs the account's measured costs, or says why it runs the fixed ones", async ({ page }) => {
  // What the server measured on the paper account's fills (the demo's, when it ran first).
  const resp = await page.request.get("/api/costs?venue=paper");
  expect(resp.status()).toBe(200);
  const costs = await resp.json();
  expect(costs.window_days).toBe(90);
  expect(costs.min_fills).toBe(10);
  const paper = costs.venues[0];
  await page.goto("/backtest");
  await panelReady(page);
  await page.selectOption("select[name=cost_model]", "calibrated");
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  const line = page.locator("#run-costs");
  if (paper && paper.fills >= costs.min_fills) {
    await expect(line).toHaveAttribute("data-used", "calibrated");
    await expect(line).toContainText(`calibrated from ${paper.fills} fills on paper (${paper.from}..${paper.to}`);
  } else {
    await expect(line).toHaveAttribute("data-used", "fixed");
    await expect(line).toContainText(`only ${paper ? paper.fills : 0} fills`);
  }
  // The fixed model: no note, the form's numbers.
  await page.selectOption("select[name=cost_model]", "fixed");
  await page.click("#run-backtest");
  await expect(page.locator("#run-costs")).toHaveAttribute("data-used", "fixed");
  await expect(page.locator("#run-costs")).toHaveText("Costs: fixed, 10 bp fee + 0 bp slippage");
});
