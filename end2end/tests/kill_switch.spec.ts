import { test, expect } from "@playwright/test";
import { signIn, TRADER, VIEWER } from "./helpers";

test("a viewer cannot use the kill switch; a trader turns it on with a reason and off again", async ({ browser }) => {
  const viewerCtx = await browser.newContext();
  const viewer = await viewerCtx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/");
  await expect(viewer.locator("#kill-switch-toggle")).toBeDisabled({ timeout: 30_000 });
  await expect(viewer.locator("#kill-switch-refusal")).toContainText("viewer");
  await viewerCtx.close();

  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await signIn(page, TRADER);
  await page.goto("/");
  const toggle = page.locator("#kill-switch-toggle");
  await expect(toggle).toBeEnabled({ timeout: 30_000 });
  await expect(page.locator("#kill-switch")).toHaveAttribute("data-active", "false");
  // Declining the confirmation changes nothing.
  page.once("dialog", (d) => d.dismiss());
  await toggle.click();
  await expect(page.locator("#kill-switch")).toHaveAttribute("data-active", "false");

  await page.fill("#kill-switch-reason", "e2e drill");
  page.once("dialog", (d) => d.accept());
  await toggle.click();
  await expect(page.locator("#kill-switch")).toHaveAttribute("data-active", "true");
  await expect(page.locator("#kill-switch-state")).toContainText("e2e drill");
  const on = await (await page.request.get("/api/kill-switch")).json();
  expect(on.active).toBe(true);
  expect(on.reason).toBe("e2e drill");
  await page.screenshot({ path: "screenshots/portfolio-kill-switch.png", fullPage: true });

  page.once("dialog", (d) => d.accept());
  await toggle.click();
  await expect(page.locator("#kill-switch")).toHaveAttribute("data-active", "false");
  const off = await (await page.request.get("/api/kill-switch")).json();
  expect(off.active).toBe(false);
  await ctx.close();
});
