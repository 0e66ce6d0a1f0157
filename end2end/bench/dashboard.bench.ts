import { test, expect, Page } from "@playwright/test";
import * as http from "node:http";
import * as fs from "node:fs";
import * as path from "node:path";

// Issue 6's browser budgets, measured in headless Chromium against a running server:
//   - WASM bundle size as served (gzip) and raw;
//   - first load of the dashboard to interactive (cold cache, fresh context each time);
//   - panel download + decode, and the full default backtest, in the browser;
//   - a 1,000-point single-strategy sweep with the page's worker pool (one per core);
//   - a 1,000-point blend sweep (issue 14: size's weight × leverage; signals once per worker,
//     blends many), worker start-up and panel download included.
// Each figure is the median of SAMPLES runs (env BENCH_SAMPLES, default 5); all runs are kept.

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5);
const results: Record<string, unknown> = { when: new Date().toISOString(), samples: SAMPLES };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number) => Math.round(x * 10) / 10;

/** Bytes on the wire for `url` when the client accepts gzip, and the decoded size. */
function transferSize(url: string): Promise<{ encoding: string; wire: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { "accept-encoding": "gzip" } }, (res) => {
        let wire = 0;
        res.on("data", (c: Buffer) => (wire += c.length));
        res.on("end", () => resolve({ encoding: String(res.headers["content-encoding"] ?? "identity"), wire }));
      })
      .on("error", reject);
  });
}

test.afterAll(() => {
  const dir = path.join(__dirname, "..", "test-results", "bench");
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, "results.json");
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
  console.log(JSON.stringify(results, null, 2));
});

test("bundle size", async ({ baseURL }) => {
  const raw = await (await fetch(`${baseURL}/pkg/lockstep.wasm`)).arrayBuffer();
  const js = await (await fetch(`${baseURL}/pkg/lockstep.js`)).arrayBuffer();
  const wasm = await transferSize(`${baseURL}/pkg/lockstep.wasm`);
  const glue = await transferSize(`${baseURL}/pkg/lockstep.js`);
  results.bundle = {
    wasm_bytes: raw.byteLength,
    wasm_wire_bytes: wasm.wire,
    wasm_encoding: wasm.encoding,
    js_bytes: js.byteLength,
    js_wire_bytes: glue.wire,
  };
});

/** Milliseconds since navigation start at which `selector` first matched (polled each frame). */
async function timeTo(page: Page, selector: string): Promise<number> {
  const h = await page.waitForFunction(
    (sel) => (document.querySelector(sel) ? performance.now() : false),
    selector,
    { polling: "raf", timeout: 120_000 },
  );
  return (await h.jsonValue()) as number;
}

test("first load to interactive", async ({ browser, baseURL }) => {
  // Warm the server (panel encoding, SSR code paths) so the samples measure the browser.
  await fetch(`${baseURL}/api/panel`);
  await fetch(`${baseURL}/`);
  const interactive: number[] = [];
  const dcl: number[] = [];
  const wasmDone: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const ctx = await browser.newContext(); // empty cache every time
    const page = await ctx.newPage();
    await page.goto("/", { waitUntil: "commit" });
    // Interactive = hydrated and the session badge answered from /api/auth/me (it shows
    // "Sign in" or the user only after the WASM app runs).
    interactive.push(await timeTo(page, "#session a, #signed-in-as"));
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const w = performance.getEntriesByType("resource").find((r) => r.name.endsWith("/pkg/lockstep.wasm"));
      return { dcl: nav.domContentLoadedEventEnd, wasm: w ? w.responseEnd : NaN };
    });
    dcl.push(t.dcl);
    wasmDone.push(t.wasm);
    await ctx.close();
  }
  results.first_load = {
    interactive_ms_median: round(median(interactive)),
    interactive_ms: interactive.map(round),
    dom_content_loaded_ms_median: round(median(dcl)),
    wasm_downloaded_ms_median: round(median(wasmDone)),
  };
});

test("panel and default backtest in the browser", async ({ browser }) => {
  const ready: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto("/backtest", { waitUntil: "commit" });
    ready.push(await timeTo(page, "#panel-status[data-ready=true]"));
    await page.click("#run-backtest");
    await expect(page.locator("#run-time")).toBeVisible({ timeout: 120_000 });
    const text = await page.locator("#run-time").innerText();
    runs.push(Number(/in ([0-9.]+) ms/.exec(text)![1]));
    if (i === 0) results.panel_status = await page.locator("#panel-status").innerText();
    await ctx.close();
  }
  results.backtest = {
    navigation_to_panel_ready_ms_median: round(median(ready)),
    navigation_to_panel_ready_ms: ready.map(round),
    default_backtest_ms_median: round(median(runs)),
    default_backtest_ms: runs.map(round),
  };
});

test("1,000-point single-strategy sweep", async ({ page }) => {
  const samples = Number(process.env.BENCH_SWEEP_SAMPLES ?? 3);
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 120_000 });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  // volatility alone: window 10..59 (50 values) × rebalance every 1..20 days (20 values).
  const set = async (name: string, v: string) => {
    await page.fill(`input[name=${name}]`, v);
    await page.locator(`input[name=${name}]`).press("Tab");
  };
  await set("axis0-from", "10");
  await set("axis0-to", "59");
  await set("axis0-steps", "50");
  await set("axis1-from", "1");
  await set("axis1-to", "20");
  await set("axis1-steps", "20");
  await expect(page.locator(".card-head .muted").first()).toHaveText("1000 grid points");
  const wall: number[] = [];
  const reported: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = await page.evaluate(() => performance.now());
    await page.click("#run-sweep");
    await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout: 600_000 });
    const t1 = await page.evaluate(() => performance.now());
    wall.push(t1 - t0);
    const text = await page.locator("#sweep-status").innerText();
    reported.push(Number(/in ([0-9.]+) s/.exec(text)![1]) * 1000);
    // The table shows the best 50 rows (the CSV has all 1,000).
    await expect(page.locator("#sweep-table tbody tr")).toHaveCount(50);
  }
  results.sweep_1000 = {
    workers: Math.min(Math.max(cores, 1), 8),
    hardware_concurrency: cores,
    page_reported_ms_median: round(median(reported)),
    page_reported_ms: reported.map(round),
    click_to_done_ms_median: round(median(wall)),
  };
});

test("1,000-point blend sweep", async ({ page }) => {
  const samples = Number(process.env.BENCH_SWEEP_SAMPLES ?? 3);
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 120_000 });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const set = async (name: string, v: string) => {
    await page.fill(`input[name=${name}]`, v);
    await page.locator(`input[name=${name}]`).press("Tab");
  };
  // The whole default blend, size's weight 0..0.39 (40 values) × leverage 0.5..1.7 (25 values).
  await page.selectOption("select[name=scope]", "blend");
  await set("axis0-strategy", "size");
  await set("axis0-param", "weight");
  await set("axis0-from", "0");
  await set("axis0-to", "0.39");
  await set("axis0-steps", "40");
  await set("axis1-param", "leverage");
  await set("axis1-from", "0.5");
  await set("axis1-to", "1.7");
  await set("axis1-steps", "25");
  await expect(page.locator("#sweep-size")).toHaveText("1000 grid points");
  const wall: number[] = [];
  const reported: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = await page.evaluate(() => performance.now());
    await page.click("#run-sweep");
    await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout: 600_000 });
    const t1 = await page.evaluate(() => performance.now());
    wall.push(t1 - t0);
    const text = await page.locator("#sweep-status").innerText();
    reported.push(Number(/in ([0-9.]+) s/.exec(text)![1]) * 1000);
  }
  results.blend_sweep_1000 = {
    workers: Math.min(Math.max(cores, 1), 8),
    hardware_concurrency: cores,
    page_reported_ms_median: round(median(reported)),
    page_reported_ms: reported.map(round),
    click_to_done_ms_median: round(median(wall)),
  };
});
