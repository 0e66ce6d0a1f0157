// Where a sweep worker's time goes, by WebAssembly function: runs the Sweep page's grid (or
// its first N points) through the worker's own exports in Node (V8, the engine Chromium runs)
// and, with `node --cpu-prof`, leaves a CPU profile whose self time this script sums by
// function when given one. Needs a bundle that still has its names (the wasm-bindgen output
// before wasm-opt, or the dev bundle). See docs/benchmarks.md, "Browser kernels at native speed".
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof end2end/bench/wasm_profile.mjs PKG_DIR PANEL_FILE [POINTS]
//   node end2end/bench/wasm_profile.mjs --summary /tmp/prof/*.cpuprofile
//
// PKG_DIR holds lockstep.js and lockstep.wasm (or lockstep_bg.wasm); PANEL_FILE is an
// /api/panel body (end2end/bench leaves one in test-results/bench/panel.bin).
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

if (process.argv[2] === "--summary") {
  const prof = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
  const self = new Map();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  prof.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const [id, us] of dt) {
    const n = byId.get(id);
    const name = n.callFrame.functionName || `(${n.callFrame.url || "anonymous"})`;
    self.set(name, (self.get(name) ?? 0) + us);
    total += us;
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 30));
  for (const [name, us] of top) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  process.exit(0);
}

const [pkg, panelFile, pointsArg] = process.argv.slice(2);
const points = Number(pointsArg ?? 1000);
const glue = await import(pathToFileURL(path.resolve(pkg, "lockstep.js")).href);
const wasmFile = ["lockstep.wasm", "lockstep_bg.wasm"].map((f) => path.resolve(pkg, f)).find((f) => fs.existsSync(f));
let t0 = performance.now();
await glue.default({ module_or_path: fs.readFileSync(wasmFile) });
const initMs = performance.now() - t0;
t0 = performance.now();
const info = glue.lockstep_worker_load_panel(new Uint8Array(fs.readFileSync(panelFile)));
const loadMs = performance.now() - t0;
const sweep = {
  scope: "volatility",
  axes: [
    { strategy: "volatility", param: "volatility_window", from: 10, to: 59, steps: 50 },
    { strategy: "volatility", param: "rebalance_days", from: 1, to: 20, steps: 20 },
  ],
  metric: "sharpe",
};
const profile = JSON.parse(glue.lockstep_worker_profile(JSON.stringify({ sweep, start: 0, end: 1 }), 5));
t0 = performance.now();
let n = 0;
for (let s = 0; s < points; s += 50) {
  const out = glue.lockstep_worker_run_chunk(JSON.stringify({ sweep, start: s, end: Math.min(points, s + 50) }));
  n += JSON.parse(out.rows).length;
}
const runMs = performance.now() - t0;
console.log(
  JSON.stringify({ info, init_ms: initMs, load_ms: loadMs, points: n, run_ms: runMs, point_ms: runMs / n, profile_point0: profile }),
);
