import { test, expect } from "@playwright/test";

test("the overview page shows the server's health, rendered by the hydrated app", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  await page.goto("/");
  await expect(page).toHaveTitle("Lockstep");

  // Health data is fetched by the WebAssembly app after hydration; SSR only sends "Loading".
  const version = page.locator("#health-version");
  await expect(version).toContainText("lockstep ");
  await expect(page.locator("#health-database")).toContainText("sqlite — ok");
  // A first start fills the empty store with the demo data (the real files when present).
  await expect(page.locator("#health-data")).toContainText(/\d+ symbols, \d+ daily bars, \d{4}-\d\d-\d\d to/);

  // An interaction: only a hydrated page reacts to the click.
  await expect(page.locator("#health-checks")).toHaveText("1 time(s) this visit");
  await page.click("#refresh-health");
  await expect(page.locator("#health-checks")).toHaveText("2 time(s) this visit");

  await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("GET /api/health answers JSON with version and database status", async ({ request }) => {
  const resp = await request.get("/api/health");
  expect(resp.ok()).toBeTruthy();
  const body = await resp.json();
  expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(body.database.status).toBe("ok");
});
