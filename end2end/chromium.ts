// How every Playwright run here launches the browser: Debian's Chromium (never a downloaded
// one), headless on a VM without a GPU or a user namespace sandbox, with nothing that talks to
// the network by itself. Playwright gives every launch a fresh, empty user-data dir of its own.
export const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
};

// The server under test: `LOCKSTEP_URL`, or an error that says how to get one.
export function serverUnderTest(how: string): string {
  const url = process.env.LOCKSTEP_URL;
  if (!url) {
    throw new Error(`LOCKSTEP_URL is not set: ${how}`);
  }
  return url;
}
