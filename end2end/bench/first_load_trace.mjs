// Where the first load of a page goes, in headless Chromium: the document, the bundle's
// download, WebAssembly compile/instantiate, hydration, every request the app starts, and the
// moment the session badge is interactive. NOT a test: a tool for docs/benchmarks.md.
//
//   cd end2end && LOCKSTEP_URL=http://127.0.0.1:PORT node bench/first_load_trace.mjs [PATH] [SAMPLES]
//
// With LOCKSTEP_TRACE_USER and LOCKSTEP_TRACE_PASSWORD, each fresh context signs in first
// (POST /api/auth/login; the cookies go into the context) and the page loads signed in.
//
// Each sample: a fresh context (empty cache), an init script that notes (performance.now())
// when WebAssembly.{instantiate,compile}[Streaming] start and settle, when each fetch() and
// EventSource starts, and — from a mutation observer — when `#session a, #signed-in-as` (the
// bench's "interactive") first appears. The first sample also records a Chromium trace
// (CDP Tracing) and prints the main thread's tasks over 4 ms with what ran in them. The
// resource timings come from the page (Resource Timing). Medians over the samples at the end.
import { chromium } from "@playwright/test";
import { launchOptions } from "../chromium.cjs";

const base = process.env.LOCKSTEP_URL;
if (!base) throw new Error("LOCKSTEP_URL is not set");
const path = process.argv[2] ?? "/";
const samples = Number(process.argv[3] ?? 5);

const browser = await chromium.launch(launchOptions);

const init = () => {
  const L = (window.__load = { marks: [] });
  const mark = (name, extra) => L.marks.push({ name, t: performance.now(), ...extra });
  for (const fn of ["instantiateStreaming", "compileStreaming", "instantiate", "compile"]) {
    const orig = WebAssembly[fn];
    if (!orig) continue;
    WebAssembly[fn] = function (...args) {
      mark(`wasm.${fn}:start`);
      const p = orig.apply(this, args);
      p.then(
        () => mark(`wasm.${fn}:end`),
        (e) => mark(`wasm.${fn}:error`, { error: String(e) }),
      );
      return p;
    };
  }
  const origFetch = window.fetch;
  window.fetch = function (input, ...rest) {
    const url = typeof input === "string" ? input : input.url;
    mark("fetch", { url });
    return origFetch.call(this, input, ...rest);
  };
  const OrigES = window.EventSource;
  if (OrigES) {
    window.EventSource = function (url, opts) {
      mark("EventSource", { url });
      return new OrigES(url, opts);
    };
    window.EventSource.prototype = OrigES.prototype;
  }
  const check = () => {
    if (L.interactive === undefined && document.querySelector("#session a, #signed-in-as")) {
      L.interactive = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
  document.addEventListener("DOMContentLoaded", () => mark("DOMContentLoaded"));
};

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r = (x) => (Number.isFinite(x) ? Math.round(x) : x);

/** The main thread's tasks over 4 ms in a Chromium trace, relative to navigation start. */
function mainThreadTasks(events) {
  const nav = events.find((e) => e.name === "navigationStart" && e.args?.data?.isLoadingMainFrame);
  const t0 = nav ? nav.ts : Math.min(...events.filter((e) => e.ts > 0).map((e) => e.ts));
  const renderer = events.find((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain");
  if (!renderer) return [];
  const main = events.filter((e) => e.pid === renderer.pid && e.tid === renderer.tid && e.ph === "X");
  const tasks = main.filter((e) => e.name === "RunTask" && e.dur > 4000);
  return tasks.map((task) => {
    const inside = main.filter(
      (e) => e !== task && e.ts >= task.ts && e.ts + (e.dur ?? 0) <= task.ts + task.dur && (e.dur ?? 0) > 1500,
    );
    const what = inside
      .map((e) => {
        const d = e.args?.data ?? {};
        const detail = d.url ? ` ${String(d.url).replace(/^https?:\/\/[^/]+/, "")}` : d.functionName ? ` ${d.functionName}` : "";
        return `${e.name}${detail} ${(e.dur / 1000).toFixed(1)}`;
      })
      .slice(0, 8);
    return { at: r((task.ts - t0) / 1000), ms: Math.round(task.dur / 100) / 10, what };
  });
}

const rows = [];
for (let i = 0; i < samples; i++) {
  const ctx = await browser.newContext({ baseURL: base });
  if (process.env.LOCKSTEP_TRACE_USER) {
    const r = await ctx.request.post("/api/auth/login", {
      data: { username: process.env.LOCKSTEP_TRACE_USER, password: process.env.LOCKSTEP_TRACE_PASSWORD },
    });
    if (!r.ok()) throw new Error(`sign-in failed: ${r.status()} ${await r.text()}`);
  }
  await ctx.addInitScript(init);
  const page = await ctx.newPage();
  const tracing = i === 0;
  if (tracing) {
    await browser.startTracing(page, {
      categories: [
        "devtools.timeline",
        "disabled-by-default-devtools.timeline",
        "v8",
        "v8.wasm",
        "v8.execute",
        "blink.user_timing",
        "loading",
        "toplevel",
      ],
    });
  }
  await page.goto(path, { waitUntil: "commit" });
  await page.waitForFunction(() => window.__load?.interactive !== undefined, null, { timeout: 60_000 });
  // Let the requests the app started at load finish, so their timings are in.
  await page.waitForTimeout(1500);
  const data = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource").map((e) => ({
      name: e.name.replace(location.origin, ""),
      start: e.startTime,
      responseStart: e.responseStart,
      end: e.responseEnd,
      wire: e.transferSize,
      body: e.decodedBodySize,
    }));
    return {
      nav: { responseStart: nav.responseStart, responseEnd: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd },
      res,
      marks: window.__load.marks,
      interactive: window.__load.interactive,
    };
  });
  if (tracing) {
    const buf = await browser.stopTracing();
    const events = JSON.parse(buf.toString()).traceEvents ?? [];
    console.log(`trace of sample 1 (${path}): main-thread tasks over 4 ms (at ms since navigation, ms long, inside)`);
    for (const t of mainThreadTasks(events)) console.log(`  ${t.at}\t${t.ms}\t${t.what.join(" | ")}`);
  }
  const m = (name) => data.marks.find((x) => x.name === name)?.t;
  const wasm = data.res.find((x) => x.name.endsWith(".wasm"));
  const me = data.res.find((x) => x.name.startsWith("/api/auth/me"));
  const row = {
    html_response_end: data.nav.responseEnd,
    dcl: data.nav.dcl,
    wasm_start: wasm?.start,
    wasm_downloaded: wasm?.end,
    wasm_wire: wasm?.wire,
    instantiate_start: m("wasm.instantiateStreaming:start") ?? m("wasm.instantiate:start"),
    instantiate_end: m("wasm.instantiateStreaming:end") ?? m("wasm.instantiate:end"),
    first_fetch: data.marks.find((x) => x.name === "fetch")?.t,
    me_start: me?.start,
    me_end: me?.end,
    interactive: data.interactive,
  };
  rows.push(row);
  console.log(`sample ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, r(v)])))}`);
  console.log(
    "  requests: " +
      data.res
        .map((x) => `${x.name.split("?")[0]} ${r(x.start)}→${r(x.end)} (${x.wire} B)`)
        .join("; "),
  );
  const other = data.marks.filter((x) => x.name !== "fetch" && !x.name.startsWith("wasm.") && x.name !== "DOMContentLoaded");
  if (other.length) console.log("  also: " + other.map((x) => `${x.name} ${x.url ?? ""} @${r(x.t)}`).join("; "));
  await ctx.close();
}
await browser.close();
const keys = Object.keys(rows[0]);
console.log(`medians over ${samples} samples of ${path}:`);
for (const k of keys) console.log(`  ${k}: ${r(median(rows.map((x) => x[k])))}`);
