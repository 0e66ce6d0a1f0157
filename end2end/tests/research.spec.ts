import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { signIn, VIEWER } from "./helpers";

// Research on the Sweep page against `lockstep sweep` on the server's own store: the same grid
// or seed gives the same rows in the browser's workers and in the CLI.

type Row = { index: number; values: number[]; metrics: Record<string, number> | null };

/** `lockstep sweep ARGS --out -` on the server's store. */
function cliSweep(args: string[]): { rows: Row[]; summary: any } {
  const out = execFileSync(
    process.env.LOCKSTEP_BIN!,
    ["sweep", "--database-url", process.env.LOCKSTEP_DB!, ...args, "--out", "-"],
    { maxBuffer: 1 << 30 },
  );
  return JSON.parse(out.toString());
}

/** Rows by in-sample Sharpe ratio, best first (ties: the lower index), as the page sorts. */
function bestFirst(rows: Row[]): Row[] {
  return rows
    .filter((r) => r.metrics && Number.isFinite(r.metrics.sharpe))
    .sort((a, b) => b.metrics!.sharpe - a.metrics!.sharpe || a.index - b.index);
}

/** The page's table rows, top first: index, values and the exact Sharpe ratio. */
async function tableRows(page: Page, n: number) {
  return page.$$eval(
    "#sweep-table tbody tr",
    (trs, n) =>
      trs.slice(0, n).map((tr) => ({
        index: Number(tr.getAttribute("data-index")),
        values: JSON.parse(tr.getAttribute("data-values")!),
        sharpe: Number(tr.querySelector("td[data-metric=sharpe]")!.getAttribute("data-exact")),
      })),
    n,
  );
}

async function setField(page: Page, name: string, value: string) {
  const f = page.locator(`[name=${name}]`);
  await f.fill(value);
  await f.press("Tab");
}

async function openSweep(page: Page) {
  await page.goto("/sweep");
  await expect(page.locator("#run-sweep")).toBeEnabled({ timeout: 60_000 });
}

async function blendGrid(page: Page, size: [string, string, string], lev: [string, string, string]) {
  await page.selectOption("select[name=scope]", "blend");
  await setField(page, "axis0-strategy", "size");
  await setField(page, "axis0-param", "weight");
  await setField(page, "axis0-from", size[0]);
  await setField(page, "axis0-to", size[1]);
  await setField(page, "axis0-steps", size[2]);
  await setField(page, "axis1-strategy", "blend");
  await setField(page, "axis1-param", "leverage");
  await setField(page, "axis1-from", lev[0]);
  await setField(page, "axis1-to", lev[1]);
  await setField(page, "axis1-steps", lev[2]);
}

async function runToDone(page: Page, timeout: number) {
  await page.click("#run-sweep");
  await expect(page.locator("#sweep-status")).toHaveAttribute("data-status", "done", { timeout });
}

test.beforeEach(async ({ page }) => signIn(page, VIEWER));

test("a 1,000-point blend sweep completes in the browser and its best row is the CLI's", async ({ page }) => {
  test.setTimeout(600_000);
  await openSweep(page);
  // size's weight 0..0.39 (40 values) × leverage 0.5..1.7 (25 values) = 1,000 blends.
  await blendGrid(page, ["0", "0.39", "40"], ["0.5", "1.7", "25"]);
  await expect(page.locator("#sweep-size")).toHaveText("1000 grid points");
  await runToDone(page, 480_000);
  const [best] = await tableRows(page, 1);

  const cli = cliSweep(["--axis", "strategy_weights.size=0:0.39:0.01", "--axis", "leverage=0.5:1.7:0.05"]);
  expect(cli.rows.length).toBe(1000);
  const cliBest = bestFirst(cli.rows)[0];
  expect(best.index).toBe(cliBest.index);
  expect(best.values).toEqual(cliBest.values);
  expect(best.sharpe).toBe(cliBest.metrics!.sharpe);
  await expect(page.locator("#sweep-heatmap canvas")).toBeVisible();
  await expect(page.locator("#dsr")).toHaveAttribute("data-dsr", /^-?\d/);
  await page.screenshot({ path: "screenshots/research-blend-grid.png", fullPage: true });
});

test("a seeded random search gives the CLI's top 5", async ({ page }) => {
  test.setTimeout(600_000);
  await openSweep(page);
  await page.selectOption("select[name=mode]", "search");
  const dims = [
    "strategy_weights.size=0:0.5",
    "strategy_weights.beta=0:0.5",
    "strategy_weights.volatility=0:0.5",
    "strategy_weights.dilution=0:0.5",
    "leverage=0.5:1.5",
  ];
  await setField(page, "search-dims", dims.join("\n"));
  await setField(page, "search-n", "200");
  await setField(page, "search-seed", "42");
  await setField(page, "search-sum", "1");
  await expect(page.locator("#sweep-size")).toHaveText("200 search points");
  await runToDone(page, 480_000);
  const ours = await tableRows(page, 5);

  const args = ["--random", "200", "--seed", "42", "--sum", "1"];
  for (const d of dims) args.push("--axis", d);
  const theirs = bestFirst(cliSweep(args).rows).slice(0, 5);
  expect(ours.map((r) => r.index)).toEqual(theirs.map((r) => r.index));
  expect(ours.map((r) => r.values)).toEqual(theirs.map((r) => r.values));
  expect(ours.map((r) => r.sharpe)).toEqual(theirs.map((r) => r.metrics!.sharpe));
  await expect(page.locator("#readouts")).toBeVisible();
});

/** The page's rows exactly as it exports them (Rust's shortest round-trip decimals). */
async function pageRows(page: Page): Promise<Record<string, string>[]> {
  const href = (await page.locator("#export-csv").getAttribute("href"))!;
  const csv = decodeURIComponent(href.slice(href.indexOf(",") + 1));
  const [head, ...lines] = csv.trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

test("a 10,000-point seeded random search completes in the browser; sampled rows and the statistics equal the CLI's", async ({ page }) => {
  test.setTimeout(1_200_000);
  await openSweep(page);
  // The default search: the nine weights of the shipped blend, each 0..0.4, summing to 1, and
  // the leverage 0.5..1.5.
  await page.selectOption("select[name=mode]", "search");
  const dims = (await page.locator("[name=search-dims]").inputValue()).split("\n").filter((l) => l.trim());
  expect(dims.length).toBe(10);
  await setField(page, "search-n", "10000");
  await setField(page, "search-seed", "20261206");
  await setField(page, "search-sum", "1");
  await expect(page.locator("#sweep-size")).toHaveText("10000 search points");
  await runToDone(page, 900_000);
  // The statistics come from a worker after the last row.
  await expect(page.locator("#readouts")).toBeVisible({ timeout: 300_000 });
  const rows = await pageRows(page);
  expect(rows).toHaveLength(10_000);
  expect(rows.filter((r) => r.error).length).toBe(0);

  const args = ["--random", "10000", "--seed", "20261206", "--sum", "1"];
  for (const d of dims) args.push("--axis", d.trim());
  const cli = cliSweep(args);
  expect(cli.rows.length).toBe(10_000);
  // 40 points drawn with a fixed generator, plus the best: every value and metric to the last
  // digit (NaN is null in JSON and "NaN" in the CSV).
  let x = 12345;
  const sample = new Set<number>([bestFirst(cli.rows)[0].index]);
  while (sample.size < 41) {
    x = (x * 48271) % 2147483647;
    sample.add(x % 10_000);
  }
  const paths = dims.map((d) => d.split("=")[0].trim());
  let compared = 0;
  for (const i of sample) {
    const ours = rows[i];
    const theirs = cli.rows[i];
    expect(Number(ours.index)).toBe(i);
    expect(theirs.index).toBe(i);
    expect(paths.map((p) => Number(ours[p])), `point ${i} values`).toEqual(theirs.values);
    expect(ours.error ?? "", `point ${i} failed in the page`).toBe("");
    for (const [key, text] of Object.entries(ours)) {
      if (paths.includes(key) || key === "error" || key === "index") continue;
      const want = (theirs.metrics as Record<string, number | null>)[key];
      if (want === null) expect(text, `point ${i} ${key}`).toBe("NaN");
      else expect(Object.is(Number(text), want), `point ${i} ${key}: page ${text}, lockstep ${want}`).toBe(true);
      compared++;
    }
  }
  expect(compared).toBeGreaterThan(41 * 8);
  // The statistics over all 10,000 trials, computed in a worker, are the CLI's.
  expect(Number(await page.locator("#dsr").getAttribute("data-dsr"))).toBe(cli.summary.deflated.dsr);
  expect(Number(await page.locator("#pbo").getAttribute("data-pbo"))).toBe(cli.summary.overfitting.pbo);
  const [best] = await tableRows(page, 1);
  expect(best.index).toBe(bestFirst(cli.rows)[0].index);
});

test("split and walk-forward: IS/OOS side by side, the walk-forward chart, DSR and PBO read-outs; a team link shows the rows without re-running", async ({ page, browser }) => {
  test.setTimeout(600_000);
  await openSweep(page);
  await blendGrid(page, ["0", "0.4", "5"], ["0.5", "1.5", "3"]);
  await setField(page, "split", "2024-06-01");
  await setField(page, "wf-step", "182");
  await setField(page, "wf-train", "2");
  await page.selectOption("select[name=wf-mode]", "anchored");
  await runToDone(page, 300_000);

  // DSR and PBO next to the heat map, with numbers and a plain reading.
  const dsr = Number(await page.locator("#dsr").getAttribute("data-dsr"));
  const pbo = Number(await page.locator("#pbo").getAttribute("data-pbo"));
  expect(Number.isFinite(dsr) && dsr >= 0 && dsr <= 1).toBe(true);
  expect(Number.isFinite(pbo) && pbo >= 0 && pbo <= 1).toBe(true);
  await expect(page.locator("#reading")).toContainText("points");

  // The chosen point in and out of sample, and the walk-forward.
  await expect(page.locator("#chosen-metrics")).toBeVisible({ timeout: 120_000 });
  const oos = await page.locator("#chosen-metrics tr[data-metric=sharpe] td").nth(2).getAttribute("data-exact");
  expect(Number.isFinite(Number(oos)) && oos !== "").toBe(true);
  await expect(page.locator("#walk-forward")).toBeVisible();
  await expect(page.locator("#wf-equity canvas")).toBeVisible();
  await expect(page.locator("#wf-chosen canvas")).toBeVisible();
  await expect(page.locator("#wf-metrics")).toHaveAttribute("data-sharpe", /^-?\d/);

  // The CLI's choice and out-of-sample Sharpe for the same grid and evaluation.
  const cli = cliSweep([
    "--axis", "strategy_weights.size=0:0.4:0.1", "--axis", "leverage=0.5:1.5:0.5",
    "--split", "2024-06-01", "--walk-forward", "182:2:anchored",
  ]) as any;
  expect(Number(await page.locator("#chosen-point").getAttribute("data-index"))).toBe(cli.chosen.index);
  expect(Number(oos)).toBe(cli.chosen.out_of_sample.sharpe);
  expect(Number(await page.locator("#wf-metrics").getAttribute("data-sharpe"))).toBe(cli.walk_forward.metrics.sharpe);
  expect(dsr).toBe(cli.summary.deflated.dsr);
  expect(pbo).toBe(cli.summary.overfitting.pbo);
  await page.screenshot({ path: "screenshots/research-walk-forward.png", fullPage: true });

  // Saved with its results, the team link shows the table without running anything.
  const n = await page.locator("#sweep-table tbody tr").count();
  await page.fill("#team-link-name", "Size × leverage, walk-forward");
  await page.click("#save-team-link");
  const link = await page.locator("#team-link-url").inputValue();
  const other = await browser.newContext();
  const theirs = await other.newPage();
  await signIn(theirs, VIEWER);
  await theirs.goto(link);
  await expect(theirs).toHaveURL(/\/sweep\?s=1\..*&link=/);
  await expect(theirs.locator("#sweep-status")).toContainText("Shown from the team link", { timeout: 60_000 });
  await expect(theirs.locator("#sweep-table tbody tr")).toHaveCount(n);
  await expect(theirs.locator("#dsr")).toHaveAttribute("data-dsr", String(dsr));
  await expect(theirs.locator("#walk-forward")).toBeVisible();
  await expect(theirs.locator("input[name=split]")).toHaveValue("2024-06-01");
  await other.close();
});
