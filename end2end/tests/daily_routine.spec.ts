import { test, expect, Page } from "@playwright/test";
import { signIn, TRADER, panelReady } from "./helpers";

async function csrf(page: Page): Promise<string> {
  const cookies = await page.context().cookies();
  return cookies.find((c) => c.name.endsWith("lockstep_csrf"))!.value;
}

test("a plan proposed through the API appears on the open Trades page without a reload", async ({ page }) => {
  await signIn(page, TRADER);
  await page.goto("/trades");
  await expect(page.locator("#plan-history")).toBeVisible({ timeout: 30_000 });
  // Mark the document: a reload would lose it.
  await page.evaluate(() => ((window as any).__noReload = true));
  const resp = await page.request.post("/api/live/run", { headers: { "X-CSRF-Token": await csrf(page) } });
  expect(resp.status()).toBe(200);
  const id = (await resp.json()).plan.id as string;
  await expect(page.locator("#current-plan")).toHaveAttribute("data-plan-id", id, { timeout: 15_000 });
  await expect(page.locator("#plan-history")).toContainText(id);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
});

test("the kill switch flips in another open tab without a reload", async ({ browser }) => {
  const ctx = await browser.newContext();
  const a = await ctx.newPage();
  await signIn(a, TRADER);
  const b = await ctx.newPage();
  await b.goto("/");
  await expect(b.locator("#book-facts")).toBeVisible({ timeout: 30_000 });
  const token = await csrf(a);
  await a.request.post("/api/kill-switch", { headers: { "X-CSRF-Token": token }, data: { reason: "e2e" } });
  await expect(b.locator("#kill-switch-state")).toContainText("ON", { timeout: 15_000 });
  await a.request.delete("/api/kill-switch", { headers: { "X-CSRF-Token": token } });
  await expect(b.locator("#kill-switch-state")).not.toContainText("ON", { timeout: 15_000 });
  await ctx.close();
});

const PAGES = ["/", "/backtest", "/sweep", "/trades", "/parity", "/data", "/login"];

async function noSidewaysScroll(page: Page, path: string) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll, `${path} scrolls sideways at ${inner} px`).toBeLessThanOrEqual(inner);
}

test("every page fits a 390 px phone, and a plan is approved at that size", async ({ browser }) => {
  test.setTimeout(180_000);
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  await signIn(page, TRADER);
  for (const path of PAGES) {
    await page.goto(path);
    await page.waitForLoadState("networkidle");
    await noSidewaysScroll(page, path);
    const name = path === "/" ? "overview" : path.slice(1);
    await page.screenshot({ path: `screenshots/phone-${name}.png`, fullPage: true });
  }
  // The nav collapses behind the Menu toggle.
  await page.goto("/");
  await expect(page.locator(".topbar nav")).toBeHidden();
  await page.click(".nav-toggle-label");
  await expect(page.locator(".topbar nav")).toBeVisible();

  // Today's plan on the phone: summary, risk checks and the buttons come before the orders.
  const resp = await page.request.post("/api/live/run", { headers: { "X-CSRF-Token": await csrf(page) } });
  const id = (await resp.json()).plan.id as string;
  await page.goto(`/plans/${id}`);
  await expect(page.locator("#current-plan")).toHaveAttribute("data-status", "proposed", { timeout: 30_000 });
  await noSidewaysScroll(page, `/plans/${id}`);
  const top = async (sel: string) => (await page.locator(sel).first().boundingBox())!.y;
  expect(await top("#approve-plan")).toBeLessThan(await top("#plan-lines"));
  expect(await top("table.risk")).toBeLessThan(await top("#approve-plan"));
  await page.screenshot({ path: "screenshots/phone-plan.png", fullPage: true });
  await page.click("#approve-plan");
  await expect(page.locator("#current-plan")).toHaveAttribute("data-status", /done|partially_failed/, { timeout: 60_000 });
  await noSidewaysScroll(page, `/plans/${id}`);
  await ctx.close();
});

test("every page at desktop width, and the metrics table prints no scientific notation", async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page, TRADER);
  for (const path of PAGES) {
    await page.goto(path);
    await page.waitForLoadState("networkidle");
    const name = path === "/" ? "overview" : path.slice(1);
    await page.screenshot({ path: `screenshots/desktop-${name}.png`, fullPage: true });
  }
  await page.goto("/backtest");
  await panelReady(page);
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  const cells = await page.$$eval("#metrics td.num", (tds) => tds.map((t) => t.textContent ?? ""));
  expect(cells.length).toBeGreaterThan(8);
  for (const c of cells) expect(c, "scientific notation").not.toMatch(/\de[+-]?\d/i);
  const byMetric = async (m: string) => (await page.locator(`#metrics tr[data-metric="${m}"] td.num`).first().textContent()) ?? "";
  expect(await byMetric("total_return")).toMatch(/%$/);
  expect(await byMetric("max_drawdown")).toMatch(/%$/);
  expect(await byMetric("win_rate")).toMatch(/%$/);
  expect(await byMetric("avg_gross_exposure")).toMatch(/%$/);
  expect(await byMetric("sharpe")).toMatch(/^-?[\d,]+\.\d{2,4}$/);
  // Every chart offers its data as CSV.
  await expect(page.locator("figure.chart").first().locator("button.chart-csv")).toBeVisible();
  const download = page.waitForEvent("download");
  await page.locator("#equity-chart button.chart-csv").click();
  const file = await download;
  expect(file.suggestedFilename()).toBe("equity-chart.csv");
  await page.screenshot({ path: "screenshots/desktop-backtest-run.png", fullPage: true });
});

test("a backtest and a sweep with their results on screen fit a 390 px phone; the sign-in page too", async ({ browser }) => {
  test.setTimeout(240_000);
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  await signIn(page, TRADER);
  await page.goto("/backtest");
  await panelReady(page);
  await page.click("#run-backtest");
  await expect(page.locator("#metrics")).toBeVisible({ timeout: 60_000 });
  await expect(page.locator("#equity-chart")).toBeVisible();
  await noSidewaysScroll(page, "/backtest with results");
  await page.screenshot({ path: "screenshots/phone-backtest-run.png", fullPage: true });

  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
  await page.fill("input[name=axis0-steps]", "3");
  await page.locator("input[name=axis0-steps]").press("Tab");
  await page.fill("input[name=axis1-steps]", "2");
  await page.locator("input[name=axis1-steps]").press("Tab");
  await page.click("#run-sweep");
  await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout: 120_000 });
  await expect(page.locator("#sweep-table tbody tr")).toHaveCount(6);
  await expect(page.locator("#sweep-heatmap canvas")).toBeVisible();
  await noSidewaysScroll(page, "/sweep with results");
  await page.screenshot({ path: "screenshots/phone-sweep-run.png", fullPage: true });
  await ctx.close();

  // Signed out: the sign-in page as a visitor sees it.
  const anon = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const login = await anon.newPage();
  await login.goto("/login");
  await expect(login.locator("#sign-in")).toBeEnabled({ timeout: 30_000 });
  await expect(login.locator("#signed-in-as")).toHaveCount(0);
  await noSidewaysScroll(login, "/login signed out");
  await login.screenshot({ path: "screenshots/phone-login-signed-out.png", fullPage: true });
  await anon.close();
});
