// A sweep worker: runs chunks of a parameter grid off the main thread, with the same
// WebAssembly kernels (and the same panel bytes) as the page. Started by the Sweep page, one
// per core; the page cancels a sweep by terminating its workers.
import init, { lockstep_worker_finish, lockstep_worker_load_panel, lockstep_worker_run_chunk } from "/pkg/lockstep.js";

const ready = init({ module_or_path: "/pkg/lockstep.wasm" });

self.onmessage = async (ev) => {
  const msg = ev.data;
  try {
    await ready;
    if (msg.type === "panel") {
      const resp = await fetch(msg.url);
      if (!resp.ok) throw new Error(`panel download failed: HTTP ${resp.status}`);
      const bytes = new Uint8Array(await resp.arrayBuffer());
      self.postMessage({ type: "ready", info: lockstep_worker_load_panel(bytes) });
    } else if (msg.type === "chunk") {
      self.postMessage({ type: "rows", id: msg.id, rows: lockstep_worker_run_chunk(msg.job) });
    } else if (msg.type === "finish") {
      // After the rows: the chosen point out of sample and the walk-forward curve.
      self.postMessage({ type: "finished", id: msg.id, result: lockstep_worker_finish(msg.job) });
    } else {
      throw new Error(`unknown message type ${msg.type}`);
    }
  } catch (e) {
    self.postMessage({ type: "error", id: msg.id, message: String((e && e.message) || e) });
  }
};
