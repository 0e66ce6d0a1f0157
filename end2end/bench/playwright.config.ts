import { defineConfig } from "@playwright/test";
import { launchOptions, serverUnderTest } from "../chromium.cjs";

// Browser benchmarks of the dashboard (issue 6), NOT part of the test suite. Run against a
// server you started yourself (see docs/benchmarks.md, "In the browser"):
//
//   cd end2end && LOCKSTEP_URL=http://127.0.0.1:PORT npx playwright test --config bench/playwright.config.ts
//
// Results are printed and written to end2end/test-results/bench/results.json (not committed).
const baseURL = serverUnderTest("start `lockstep serve` and point this at it");

export default defineConfig({
  testDir: ".",
  testMatch: "*.bench.ts",
  outputDir: "../test-results/bench",
  timeout: 15 * 60_000,
  expect: { timeout: 60_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    viewport: { width: 1440, height: 900 },
    launchOptions,
  },
});
