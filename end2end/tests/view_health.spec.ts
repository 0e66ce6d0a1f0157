import { test, expect } from "@playwright/test";
import { cspViolations, fillSignIn, signIn, VIEWER } from "./helpers";

test("the overview page shows the server's health, rendered by the hydrated app", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const csp = cspViolations(page);

  await signIn(page, VIEWER);
  const resp = await page.goto("/");
  // The page runs under a strict CSP: its one inline script (the hydration loader) carries the
  // nonce the header names, and hydration below proves the browser let it run.
  const policy = resp!.headers()["content-security-policy"];
  const nonce = policy.match(/'nonce-([A-Za-z0-9_-]+)'/)![1];
  expect(policy).toContain("'wasm-unsafe-eval'");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(resp!.headers()["x-frame-options"]).toBe("DENY");
  expect(await page.locator(`script[nonce]`).count()).toBeGreaterThan(0);
  for (const n of await page.locator("script").evaluateAll((s) => s.map((e) => (e as HTMLScriptElement).nonce))) {
    expect(n).toBe(nonce);
  }
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

  expect(errors).toEqual([]);
  expect(csp).toEqual([]);
  await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
});

test("a visitor who is not signed in is sent to sign in, then on to the page asked for", async ({ page }) => {
  const csp = cspViolations(page);
  await page.goto("/data?x=1");
  await expect(page).toHaveURL(/\/login\?next=\/data%3Fx%3D1$/);
  // Anonymous API reads are refused; health answers.
  expect((await page.request.get("/api/panel")).status()).toBe(401);
  expect((await page.request.get("/api/health")).status()).toBe(200);
  await fillSignIn(page, VIEWER);
  await expect(page).toHaveURL(/\/data\?x=1$/);
  await expect(page.locator("#data-series tbody tr").first()).toBeVisible({ timeout: 30_000 });
  expect(csp).toEqual([]);
});

test("GET /api/health answers JSON with version and database status", async ({ request }) => {
  const resp = await request.get("/api/health");
  expect(resp.ok()).toBeTruthy();
  const body = await resp.json();
  expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(body.database.status).toBe("ok");
});
