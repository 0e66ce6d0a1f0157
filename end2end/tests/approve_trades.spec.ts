import { test, expect } from "@playwright/test";
import { signIn, TRADER, VIEWER } from "./helpers";

test("a viewer cannot approve, a trader approves and the paper positions change", async ({ browser }) => {
  // The trader asks for today's plan.
  const traderCtx = await browser.newContext();
  const trader = await traderCtx.newPage();
  await signIn(trader, TRADER);
  await trader.goto("/");
  const before = await trader.locator("#positions tbody tr").count();
  await trader.goto("/trades");
  await trader.click("#run-cycle");
  await expect(trader.locator("#current-plan")).toHaveAttribute("data-status", "proposed", { timeout: 60_000 });

  // A viewer sees the plan but cannot decide it, in the page or through the API.
  const viewerCtx = await browser.newContext();
  const viewer = await viewerCtx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/trades");
  await expect(viewer.locator("#current-plan")).toBeVisible();
  await expect(viewer.locator("#approve-plan")).toBeDisabled();
  await expect(viewer.locator("#trade-refusal")).toContainText("viewer");
  const id = await viewer.locator("#current-plan").getAttribute("data-plan-id");
  const cookies = await viewerCtx.cookies();
  const csrf = cookies.find((c) => c.name === "lockstep_csrf")!.value;
  const resp = await viewer.request.post(`/api/plans/${id}/approve`, { headers: { "X-CSRF-Token": csrf } });
  expect(resp.status()).toBe(403);
  await viewer.screenshot({ path: "screenshots/trades-viewer.png", fullPage: true });
  await viewerCtx.close();

  // The trader approves; the paper broker executes; the book shows the new positions.
  await trader.click("#approve-plan");
  const execute = trader.locator("#execute-plan");
  if (await execute.isVisible().catch(() => false)) await execute.click();
  await expect(trader.locator("#current-plan")).toHaveAttribute("data-status", /done|partially_failed/, { timeout: 60_000 });
  await expect(trader.locator("#plan-decided")).toContainText(`by ${TRADER.user}`);
  await trader.screenshot({ path: "screenshots/trades.png", fullPage: true });
  await trader.goto("/");
  await expect(trader.locator("#positions tbody tr").first()).toBeVisible({ timeout: 30_000 });
  expect(await trader.locator("#positions tbody tr").count()).not.toBe(before);
  await trader.screenshot({ path: "screenshots/portfolio.png", fullPage: true });
  await traderCtx.close();
});

test("the data page shows the quality summary", async ({ page }) => {
  await signIn(page, VIEWER);
  await page.goto("/data");
  await expect(page.locator("#data-series tbody tr").first()).toBeVisible({ timeout: 30_000 });
  await page.screenshot({ path: "screenshots/data.png", fullPage: true });
});
