import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metricsOnPage, panelReady, signIn, VIEWER } from "./helpers";

// This spec refreshes the server's data (new bars through `lockstep import`), so it runs last
// (`z_`: the suite runs its files in name order, one at a time), after every spec that reads
// the panel as the first start loaded it.

/** The data version the page's panel is (`x-lockstep-data-version`, shown in the data stamp). */
async function dataVersion(page: Page): Promise<string> {
  return (await page.locator("#panel-status[data-ready=true]").getAttribute("data-version")) ?? "";
}

/** The panel's last day, as the data stamp prints it ("(FIRST to LAST)"). */
async function lastDay(page: Page): Promise<string> {
  const text = (await page.locator("#panel-status").textContent()) ?? "";
  const m = text.match(/\(\d{4}-\d{2}-\d{2} to (\d{4}-\d{2}-\d{2})\)/);
  expect(m, `the data stamp names the panel's days: ${text}`).not.toBeNull();
  return m![1];
}

/** A data refresh through the CLI on the server's own store: new daily bars after the last day. */
function importNewBars(after: string) {
  const day = new Date(`${after}T00:00:00Z`);
  const rows = ["date,symbol,base,open,high,low,close,volume"];
  for (let i = 1; i <= 3; i++) {
    const d = new Date(day.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    rows.push(`${d},BTC/USD,BTC,100000.0,101000.0,99000.0,${(100000 + 500 * i).toFixed(1)},1000.0`);
  }
  const dir = mkdtempSync(join(tmpdir(), "lockstep-e2e-pin-"));
  const file = join(dir, "coinbase_top200_daily.csv");
  writeFileSync(file, rows.join("\n") + "\n");
  try {
    execFileSync(process.env.LOCKSTEP_BIN!, ["import", "--database-url", process.env.LOCKSTEP_DB!, file], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a shared link re-runs on the data it pinned after a refresh, and on today's on request", async ({ page }) => {
  await signIn(page, VIEWER);
  await page.goto("/backtest");
  await panelReady(page);
  await page.fill("input[name=fee_bps]", "15");
  await page.locator("input[name=fee_bps]").press("Tab");
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await expect(page.locator("#run-universe")).toContainText("any venue");
  const mine = await metricsOnPage(page);
  const pinned = await dataVersion(page);
  expect(pinned).not.toBe("");
  const end = await lastDay(page);
  await page.click("#copy-link");
  const link = await page.locator("#share-url").inputValue();

  // The data moves on: three new days of bars, imported into the server's store.
  importNewBars(end);

  const other = await page.context().newPage();
  await other.goto(link);
  await expect(other.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await expect(other.locator("#data-as-of")).toContainText(`version ${pinned}`);
  await expect(other.locator("#panel-status")).toContainText("data as of version");
  expect(await dataVersion(other)).toBe(pinned);
  expect(await lastDay(other)).toBe(end);
  // Bit for bit what its author saw.
  expect(await metricsOnPage(other)).toEqual(mine);
  await expect(other.locator("#link-warning")).toHaveCount(0);
  await expect(other.locator("#link-universe")).toContainText("any venue");

  // Today's data: a newer version, the new days included.
  await other.click("#rerun-today");
  await expect(other.locator("#data-as-of")).toHaveCount(0);
  await expect(other.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await expect(other.locator("#panel-status[data-ready=true]")).not.toHaveAttribute("data-version", pinned, {
    timeout: 60_000,
  });
  expect(Number(await dataVersion(other))).toBeGreaterThan(Number(pinned));
  expect(await lastDay(other)).not.toBe(end);
  await expect(other.locator("#panel-status")).toContainText("today's data");
});

/** The sweep's rows as the table prints them: index → every metric's exact value. */
async function sweepRows(page: Page): Promise<Record<string, Record<string, string>>> {
  return page.$$eval("#sweep-table tbody tr[data-index]", (rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.getAttribute("data-index")!,
        Object.fromEntries(
          Array.from(r.querySelectorAll("td[data-metric]")).map((c) => [
            c.getAttribute("data-metric")!,
            c.getAttribute("data-exact")!,
          ]),
        ),
      ]),
    ),
  );
}

async function sweepDone(page: Page) {
  await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout: 120_000 });
}

test("a shared sweep link re-runs on the data it pinned after a refresh, and on today's on request", async ({
  page,
}) => {
  await signIn(page, VIEWER);
  await page.goto("/sweep");
  await panelReady(page);
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  // A small grid: 3 × 2 points.
  await page.fill("input[name=axis0-steps]", "3");
  await page.locator("input[name=axis0-steps]").press("Tab");
  await page.fill("input[name=axis1-steps]", "2");
  await page.locator("input[name=axis1-steps]").press("Tab");
  await page.click("#run-sweep");
  await sweepDone(page);
  await expect(page.locator("#sweep-table tbody tr")).toHaveCount(6);
  const mine = await sweepRows(page);
  expect(Object.keys(mine)).toHaveLength(6);
  await expect(page.locator("#sweep-costs")).toHaveAttribute("data-used", "fixed");
  const pinned = await dataVersion(page);
  expect(pinned).not.toBe("");
  const end = await lastDay(page);
  // "Copy link" writes the link into the address bar.
  await page.click("#copy-link");
  await expect(page).toHaveURL(/\/sweep\?s=1\./);
  const link = page.url();

  importNewBars(end);

  const other = await page.context().newPage();
  await other.goto(link);
  await panelReady(other);
  await expect(other.locator("#data-as-of")).toContainText(`version ${pinned}`);
  await expect(other.locator("#panel-status")).toContainText("data as of version");
  expect(await dataVersion(other)).toBe(pinned);
  expect(await lastDay(other)).toBe(end);
  await expect(other.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  await other.click("#run-sweep");
  await sweepDone(other);
  // Every row, every metric, to the last digit.
  expect(await sweepRows(other)).toEqual(mine);
  // A row opened as a backtest stays on the pinned data.
  await other.locator("#sweep-table tbody tr").first().click();
  await expect(other).toHaveURL(/\/backtest\?s=1\./);
  await expect(other.locator("#data-as-of")).toContainText(`version ${pinned}`);
  await expect(other.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await other.goBack();
  await expect(other).toHaveURL(/\/sweep\?s=1\./);

  // Today's data: the sweep runs again on a newer version, the new days included.
  await expect(other.locator("#rerun-today")).toBeVisible({ timeout: 60_000 });
  await other.click("#rerun-today");
  await expect(other.locator("#data-as-of")).toHaveCount(0);
  await expect(other.locator("#panel-status[data-ready=true]")).not.toHaveAttribute("data-version", pinned, {
    timeout: 60_000,
  });
  expect(Number(await dataVersion(other))).toBeGreaterThan(Number(pinned));
  expect(await lastDay(other)).not.toBe(end);
  await expect(other.locator("#panel-status")).toContainText("today's data");
  await sweepDone(other);
  await expect(other.locator("#sweep-table tbody tr")).toHaveCount(6);
});
