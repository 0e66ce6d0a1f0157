import { test, expect, Page, Locator } from "@playwright/test";
import { signIn, TRADER } from "./helpers";

/** Gives the paper book live history (an executed plan) unless the approval test already did. */
async function ensureLiveHistory(page: Page) {
  const resp = await page.request.get("/api/plans?limit=20");
  expect(resp.ok()).toBeTruthy();
  const plans: { status: string }[] = await resp.json();
  if (plans.some((p) => p.status === "done" || p.status === "partially_failed")) return;
  await page.goto("/trades");
  await page.click("#run-cycle");
  await expect(page.locator("#current-plan")).toHaveAttribute("data-status", "proposed", { timeout: 60_000 });
  await page.click("#approve-plan");
  const execute = page.locator("#execute-plan");
  if (await execute.isVisible().catch(() => false)) await execute.click();
  await expect(page.locator("#current-plan")).toHaveAttribute("data-status", /done|partially_failed/, { timeout: 60_000 });
}

/** How many different colours a sample of the canvas holds: a drawn chart has many, a blank one 1. */
async function coloursOn(canvas: Locator): Promise<number> {
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 37) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  });
}

const CHECKS = ["positions_vs_backtest", "parameter_audit", "signal_consistency", "portfolio_value_30d"];

test("the parity page shows the server's report: checks, signal parity, parameter audit, costs", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, TRADER);
  await ensureLiveHistory(page);
  const report = await (await page.request.get("/api/parity")).json();
  expect(report.signals.length).toBeGreaterThan(0);

  await page.goto("/parity");
  const checks = page.locator("#parity-checks .check");
  await expect(checks).toHaveCount(4, { timeout: 60_000 });
  for (const c of report.checks) {
    await expect(page.locator(`#parity-checks [data-check=${c.name}]`)).toHaveAttribute("data-ok", String(c.ok));
  }
  expect(report.checks.map((c: { name: string }) => c.name).sort()).toEqual([...CHECKS].sort());
  await expect(page.locator("#parity-summary")).toHaveAttribute("data-alarms", String(report.alarms));
  await expect(page.locator("#parity-empty")).toHaveCount(0);
  // One signal-parity row per plan, each with the server's status.
  const rows = page.locator("#signal-parity tbody tr.signal-row");
  await expect(rows).toHaveCount(report.signals.length);
  await expect(rows.first()).toHaveAttribute("data-status", /identical|revised|mismatch|unavailable/);
  await expect(page.locator("#parameter-summary")).toContainText(
    `${report.parameters.differing} of ${report.parameters.rows.length} key(s) differ`,
  );
  await expect(page.locator("#cost-calibration")).toBeVisible();
  await expect(page.locator("#cost-suggestion")).not.toBeEmpty();
  // The attribution is a drawn chart when the report has days, else an explained empty state
  // (the demo data ends before the live account's snapshots, so a fresh suite has none).
  if (report.attribution.days.length > 0) {
    await expect.poll(() => coloursOn(page.locator("#attribution-chart canvas"))).toBeGreaterThan(4);
  } else {
    await expect(page.locator("#attribution-empty")).toContainText("next UTC day");
  }
  await page.screenshot({ path: "screenshots/parity.png", fullPage: true });

  // The form drives the query string and the report's tolerance.
  await page.fill("input[name=tolerance]", "10");
  await page.click("#parity-apply");
  await expect(page).toHaveURL(/\/parity\?tolerance=0\.1$/);
  await expect(page.locator("#parity-summary")).toContainText("tolerance 10.00%", { timeout: 60_000 });
  // A bad range is refused in the page; a range the server refuses shows its message.
  await page.fill("input[name=from]", "2030-02-01");
  await page.fill("input[name=to]", "2030-01-01");
  await page.click("#parity-apply");
  await expect(page.locator("#parity-form-error")).toContainText("after");
  await page.goto("/parity?tolerance=-1");
  await expect(page.locator("#parity-error")).toContainText("tolerance");
  expect(errors).toEqual([]);
});

function day(i: number) {
  return new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
}

/** A full report of 40 days (as `GET /api/parity` answers it) to draw every part of the page. */
function fullReport() {
  const zero = { skipped: 0, slippage: 0, fees: 0, funding: 0, other: 0, unexplained: 0, total: 0 };
  const cum: Record<string, number> = { ...zero };
  const days = [];
  const shadow = [];
  let live = 10_000;
  let sh = 10_000;
  for (let i = 0; i < 40; i++) {
    const p: Record<string, number> = {
      skipped: Math.round(Math.sin(i) * 1200) / 100,
      slippage: -Math.round(Math.abs(Math.cos(i * 1.3)) * 800) / 100,
      fees: -1.5 - (i % 3),
      funding: Math.round(Math.sin(i / 3) * 400) / 100,
      other: i === 17 ? -40 : 0,
      unexplained: 0,
    };
    p.total = p.skipped + p.slippage + p.fees + p.funding + p.other + p.unexplained;
    for (const k of Object.keys(cum)) cum[k] += p[k];
    const shadowPnl = Math.round(3000 * Math.sin(i / 4)) / 100;
    sh += shadowPnl;
    live += shadowPnl + p.total;
    days.push({ day: day(i), live_pnl: shadowPnl + p.total, shadow_pnl: shadowPnl, parts: p, cumulative: { ...cum } });
    shadow.push({ day: day(i), live_equity: i === 5 ? null : live, shadow_equity: sh });
  }
  const signal = (i: number, status: string, extra = {}) => ({
    plan_id: `plan-${i}`, data_day: day(i), plan_status: "done", status, kernel_version_matches: true,
    differences: [], revisions: [], note: null, ...extra,
  });
  return {
    generated_at: Date.UTC(2026, 1, 10), broker: "paper", from: day(0), to: day(39), kernel_version: "k2", tolerance: 0.05,
    signals: [
      signal(0, "identical"),
      signal(1, "revised", {
        differences: [{ symbol: "BTC", planned: 0.2, same_data: 0.2, today: 0.21, cause: "revised" }],
        revisions: [{ symbol: "BTC", day: day(0), field: "close", before: 100, after: 101, relative_change: 0.01 }],
      }),
      signal(2, "mismatch", {
        differences: [{ symbol: "ETH", planned: 0.1, same_data: 0.12, today: 0.12, cause: "same_data" }],
      }),
    ],
    alarms: 1,
    parameters: {
      live_config_version: "aaaa", backtest_config_version: "bbbb", backtest_config_source: "request (backtest_config)", differing: 1,
      rows: [
        { strategy: "", key: "leverage", live: 1, backtest: 1, same: true },
        { strategy: "size", key: "weighting", live: "inverse_vol", backtest: "equal", same: false },
      ],
    },
    shadow: { policy: "threshold(0.03)", start_equity: 10_000, days: shadow, live_return: live / 10_000 - 1, shadow_return: sh / 10_000 - 1 },
    attribution: {
      days,
      total: cum,
      // Twelve symbols, the largest |total| first as the server sends them: the page lists ten.
      symbols: Array.from({ length: 12 }, (_, i) => {
        const other = i === 0 ? -30 : -(12 - i);
        const parts = { skipped: 0, slippage: -1.5, fees: 0.5, funding: 0, other, unexplained: 0, total: 0 };
        parts.total = parts.slippage + parts.fees + other;
        return { symbol: i === 0 ? "ETH" : `C${i}`, parts };
      }),
    },
    costs: {
      fills: 42, traded_notional: 123_456, configured_fee_bps: 4.5, configured_slippage_bps: 5,
      implied_fee_bps: 4.5, implied_slippage_bps: 11.2,
      suggestion: "The fills imply 11.2 bps of slippage against 5 bps configured: set rebalance.slippage_bps to 11.",
    },
    checks: [
      { name: "positions_vs_backtest", ok: true, value: 0.021, limit: 0.05, detail: "largest difference 2.1% (ETH)" },
      { name: "parameter_audit", ok: false, value: 1, limit: 0, detail: "1 key differs: size.weighting" },
      { name: "signal_consistency", ok: false, value: 1, limit: 0, detail: "1 plan differs on the same data" },
      { name: "portfolio_value_30d", ok: true, value: 0.004, limit: 0.05, detail: "live vs shadow over 30 days" },
    ],
  };
}

test("the parity page draws a full report: stacked attribution, shadow chart, expandable rows", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await signIn(page, TRADER);
  // The page as it renders a 40-day report with every cause, an alarm and a cost suggestion
  // (the server's own numbers are covered by its scenario test; this checks the drawing).
  await page.route("**/api/parity*", (r) => r.fulfill({ json: fullReport() }));
  await page.goto("/parity");
  await expect(page.locator("#parity-alarms")).toHaveClass(/alarm/);
  await expect(page.locator("#parity-checks .check.fail")).toHaveCount(2);
  const chart = page.locator("#attribution-chart canvas");
  await expect.poll(() => coloursOn(chart)).toBeGreaterThan(8);
  await expect.poll(() => coloursOn(page.locator("#shadow-chart canvas"))).toBeGreaterThan(4);
  await expect(page.locator("#attribution-totals [data-part=other]")).toContainText("-$40.00");
  // The symbols that explain most of the gap: the top ten, each split by cause.
  await expect(page.locator("#attribution-symbols tbody tr")).toHaveCount(10);
  await expect(page.locator("#attribution-symbols tbody tr").first()).toHaveAttribute("data-symbol", "ETH");
  await expect(page.locator("#attribution-symbols tbody tr").first()).toContainText("-$31.00");
  await expect(page.locator("#parity-attribution")).toContainText("2 more in `lockstep parity --json`");
  // Hovering a day reads its parts and the running total out.
  await chart.hover({ position: { x: 600, y: 150 } });
  await expect(page.locator("#attribution-chart .readout")).toContainText(/2026-01-\d\d · .*cumulative gap/);
  // The alarm comes first and opens to its differing weights.
  const first = page.locator("#signal-parity tbody tr.signal-row").first();
  await expect(first).toHaveAttribute("data-status", "mismatch");
  await first.click();
  await expect(page.locator("#signal-parity tr.details")).toContainText("same data, different result");
  // Differing parameters first, highlighted; matching ones behind a toggle.
  await expect(page.locator("#parameter-audit tbody tr").first()).toHaveClass(/differs/);
  await expect(page.locator("#parameter-audit tbody tr")).toHaveCount(1);
  await page.click("#parameter-toggle");
  await expect(page.locator("#parameter-audit tbody tr")).toHaveCount(2);
  await expect(page.locator("#cost-suggestion")).toContainText("slippage_bps");
  await page.mouse.move(0, 0);
  await page.screenshot({ path: "screenshots/parity-full-report.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("the parity page sends visitors to sign in", async ({ page }) => {
  await page.goto("/parity");
  await expect(page).toHaveURL(/\/login\?next=\/parity$/);
});
