import { test, expect } from "@playwright/test";
import { signIn, TRADER } from "./helpers";

// Named to run first (files run in name order, one worker): the demo only fills an empty
// history, and the other specs make plans.

test("before any plan the parity checks say not measured; the demo history then feeds Trades, Portfolio and Parity, labelled simulated", async ({ page }) => {
  test.setTimeout(240_000);
  await signIn(page, TRADER);

  // First start: nothing measured yet, and it says so in grey, not a green "ok".
  await page.goto("/parity");
  const positions = page.locator('#parity-checks .check[data-check="positions_vs_backtest"]');
  await expect(positions).toHaveAttribute("data-status", "not_measured", { timeout: 60_000 });
  await expect(positions.locator(".badge")).toHaveText("not measured");
  await expect(positions.locator(".badge")).toHaveClass(/badge-muted/);
  await expect(page.locator('#parity-checks .check[data-check="parameter_audit"] .badge')).toHaveText("ok");

  // The empty Trades page offers the simulated history to a trader.
  await page.goto("/trades");
  await expect(page.locator("#no-plan")).toBeVisible({ timeout: 30_000 });
  await page.fill("#demo-days", "20");
  await page.click("#start-demo");
  await expect(page.locator("#demo-status")).toHaveAttribute("data-status", "done", { timeout: 180_000 });
  await expect(page.locator("#demo-status")).toContainText("not real trading");
  // The plans arrived without a reload, each labelled.
  await expect(page.locator("#plan-history tbody tr")).toHaveCount(20, { timeout: 30_000 });
  await expect(page.locator("#plan-history .badge-sim")).toHaveCount(20);
  await expect(page.locator("#plan-simulated")).toBeVisible();

  // Portfolio: the demo's book, labelled.
  await page.goto("/");
  await expect(page.locator("#portfolio-simulated")).toBeVisible({ timeout: 30_000 });
  await expect(page.locator("#positions tbody tr").first()).toBeVisible();
  await expect(page.locator("#pnl-since-snapshot")).toContainText("since");

  // Parity: measured on the demo's plans, labelled.
  await page.goto("/parity");
  await expect(page.locator("#parity-simulated")).toBeVisible({ timeout: 60_000 });
  await expect(positions).not.toHaveAttribute("data-status", "not_measured");
  await expect(page.locator("#parity-signals")).toContainText("identical");
});
