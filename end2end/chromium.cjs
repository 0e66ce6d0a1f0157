// How every Playwright run here launches the browser: Debian's Chromium (never a downloaded
// one), headless on a VM without a GPU or a user namespace sandbox, with nothing that talks to
// the network by itself. Playwright gives every launch a fresh, empty user-data dir of its own.
// CommonJS, so that the Playwright configs (TypeScript) and the plain Node tools in bench/
// (`first_load_trace.mjs`) share it.
exports.launchOptions = {
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
exports.serverUnderTest = function serverUnderTest(how) {
  const url = process.env.LOCKSTEP_URL;
  if (!url) {
    throw new Error(`LOCKSTEP_URL is not set: ${how}`);
  }
  return url;
};
