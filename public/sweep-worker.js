// A sweep worker: runs chunks of a parameter grid off the main thread, with the same
// WebAssembly kernels (and the same panel bits) as the page. The page's pool (app/src/pool.rs)
// starts one per core and keeps them between runs; it cancels a run by terminating them.
// The messages are listed in app/src/worker.rs. Every reply carries `ms`, this worker's own
// time for the request, which the page sums into the run's timing counters.
import init, {
  lockstep_worker_load_panel,
  lockstep_worker_set_panel,
  lockstep_worker_run_chunk,
  lockstep_worker_finish,
  lockstep_worker_summarize,
  lockstep_worker_profile,
} from "/pkg/lockstep.js";

let ready = null;
let initMs = 0;
// The page sends its own compiled module first ({type: "init"}), which spares this worker
// downloading and compiling the bundle again; without one it loads /pkg/lockstep.wasm.
function start(module) {
  if (!ready) {
    const t0 = performance.now();
    ready = init({ module_or_path: module ?? "/pkg/lockstep.wasm" }).then(() => {
      initMs = performance.now() - t0;
    });
  }
  return ready;
}

self.onmessage = async (ev) => {
  const msg = ev.data;
  const reply = (m) => self.postMessage({ id: msg.id, gen: msg.gen, ...m });
  try {
    await start(msg.type === "init" ? msg.module : undefined);
    const t0 = performance.now();
    const ms = () => performance.now() - t0;
    if (msg.type === "init") {
      reply({ type: "init", ms: initMs });
    } else if (msg.type === "columns") {
      const info = lockstep_worker_set_panel(msg.start, msg.n_days, msg.symbols, msg.fields, msg.columns);
      reply({ type: "ready", info, ms: ms() });
    } else if (msg.type === "panel") {
      const resp = await fetch(msg.url);
      if (!resp.ok) throw new Error(`panel download failed: HTTP ${resp.status}`);
      const bytes = new Uint8Array(await resp.arrayBuffer());
      reply({ type: "ready", info: lockstep_worker_load_panel(bytes), ms: ms() });
    } else if (msg.type === "chunk") {
      // `rows` is a JSON string of the rows, as the page has always read it.
      const out = lockstep_worker_run_chunk(msg.job);
      reply({ type: "rows", rows: out.rows, computed: out.computed, reused: out.reused, ms: ms() });
    } else if (msg.type === "summarize") {
      // After the last row: DSR, PBO and the walk-forward's choices from the run's rows, here
      // rather than on the page's thread.
      reply({ type: "summary", result: lockstep_worker_summarize(msg.evaluation, msg.chunks), ms: ms() });
    } else if (msg.type === "finish") {
      // After the rows: the chosen point out of sample and the walk-forward curve.
      reply({ type: "finished", result: lockstep_worker_finish(msg.job), ms: ms() });
    } else if (msg.type === "profile") {
      reply({ type: "profile", profile: JSON.parse(lockstep_worker_profile(msg.job, msg.runs ?? 3)), ms: ms() });
    } else {
      throw new Error(`unknown message type ${msg.type}`);
    }
  } catch (e) {
    reply({ type: "error", message: String((e && e.message) || e) });
  }
};
