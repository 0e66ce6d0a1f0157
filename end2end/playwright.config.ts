import { defineConfig } from "@playwright/test";
import { launchOptions, serverUnderTest } from "./chromium.cjs";

// The test command (`./x test`) starts `lockstep serve` on a free loopback port with a throwaway
// database and passes its address here. Browsers are never downloaded: Debian's Chromium is used.
const baseURL = serverUnderTest("run the suite through `./x test` (or `./x e2e`)");

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
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
