//! The sweep worker pool: one module worker per core running `public/sweep-worker.js`, kept
//! alive between runs (and between visits to the Sweep page) so that only the first run pays
//! for starting them.
//!
//! Start-up, once per page load: each worker gets the page's own compiled WebAssembly module
//! (no second download or compile) and the page's decoded panel as transferred
//! `Float64Array` columns (no second download or decode; [`crate::worker::panel_columns`]).
//! A run queues its grid in small chunks and hands the next chunk to whichever worker answers.
//! Cancel terminates the workers at once (a chunk in flight is not waited for) and starts a
//! fresh set in the background, so the next run is warm again.
//!
//! Messages are listed in [`crate::worker`].

use serde::{Deserialize, Serialize};

/// What a run's time went to, from the page's clock and the workers' own reports: shown under
/// the progress bar and read by the browser benchmark (`end2end/bench`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    pub workers: usize,
    pub points: usize,
    /// The run found its workers ready (started by an earlier run).
    pub warm: bool,
    /// Click to every worker holding the panel (0 when warm).
    pub startup_ms: f64,
    /// Click to the last row.
    pub wall_ms: f64,
    /// Worker time inside the kernels, summed over workers and chunks.
    pub kernel_ms: f64,
    /// `kernel_ms / points`: one point on one worker.
    pub point_ms: f64,
    /// The workers' instantiation of the module and taking the panel, slowest worker (0 when
    /// warm).
    pub worker_init_ms: f64,
    pub worker_panel_ms: f64,
    /// Signal records computed and reused by the workers' caches.
    pub signals_computed: u64,
    pub signals_reused: u64,
}

impl RunTiming {
    /// One line for people.
    pub fn summary(&self) -> String {
        let start = if self.warm {
            "workers warm".to_string()
        } else {
            format!("workers started in {:.0} ms", self.startup_ms)
        };
        format!(
            "{} workers · {start} · {:.2} ms a point per worker · {} signal records computed, {} reused",
            self.workers, self.point_ms, self.signals_computed, self.signals_reused
        )
    }
}

/// Chunks of `n_points` for `n_workers`: small enough that every worker is busy to the end and
/// progress moves smoothly, at most 50 points.
pub fn chunks(n_points: usize, n_workers: usize) -> Vec<(usize, usize)> {
    let chunk = (n_points / (n_workers.max(1) * 8)).clamp(1, 50);
    (0..n_points)
        .step_by(chunk)
        .map(|s| (s, (s + chunk).min(n_points)))
        .collect()
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    //! Without a browser there are no workers: the server only renders the page.
    use crate::worker::FinishJob;
    use shared::research::report::Finished;

    pub fn cancel() {}
    pub fn cancel_if_running() {}
    pub fn finish(_job: &FinishJob, _on_finished: impl Fn(Result<Finished, String>) + 'static) {}
}

#[cfg(feature = "hydrate")]
mod imp {
    use super::{chunks, RunTiming};
    use crate::share::{BacktestSpec, SweepSpec};
    use crate::worker::{panel_columns, FinishJob, Job};
    use shared::research::report::Finished;
    use shared::sweep::SweepRow;
    use shared::Panel;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::sync::Arc;
    use wasm_bindgen::prelude::*;
    use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

    type RowsFn = Rc<dyn Fn(Vec<SweepRow>)>;
    type ErrorFn = Rc<dyn Fn(String)>;
    type DoneFn = Rc<dyn Fn(RunTiming)>;
    type FinishedFn = Rc<dyn Fn(Result<Finished, String>)>;

    struct Run {
        gen: u64,
        queue: VecDeque<(usize, usize)>,
        backtest: BacktestSpec,
        sweep: SweepSpec,
        outstanding: usize,
        on_rows: RowsFn,
        on_error: ErrorFn,
        on_done: DoneFn,
        started: f64,
        timing: RunTiming,
    }

    struct State {
        ready: Vec<bool>,
        busy: Vec<bool>,
        spawned: f64,
        init_ms: f64,
        panel_ms: f64,
        gen: u64,
        run: Option<Run>,
        /// Who waits for the finish job sent last.
        finish: Option<FinishedFn>,
    }

    struct Pool {
        workers: Vec<Worker>,
        /// Kept alive as long as their workers: dropping one while it runs would trap.
        _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
        panel: Arc<Panel>,
        state: Rc<RefCell<State>>,
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            for w in &self.workers {
                w.terminate();
            }
        }
    }

    thread_local! {
        static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
        /// Terminated pools whose message handlers may still be on the stack (a cancel from
        /// inside a callback): dropped at the next start, never while they run.
        static RETIRED: RefCell<Vec<Pool>> = const { RefCell::new(Vec::new()) };
    }

    fn now() -> f64 {
        crate::data::now_ms()
    }

    fn set(o: &js_sys::Object, k: &str, v: &JsValue) {
        let _ = js_sys::Reflect::set(o, &k.into(), v);
    }

    fn get(o: &JsValue, k: &str) -> JsValue {
        js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    }

    impl Pool {
        fn spawn(panel: Arc<Panel>) -> Result<Pool, String> {
            let cores = web_sys::window()
                .map(|w| w.navigator().hardware_concurrency() as usize)
                .unwrap_or(2);
            let n = cores.clamp(1, 8);
            let state = Rc::new(RefCell::new(State {
                ready: vec![false; n],
                busy: vec![false; n],
                spawned: now(),
                init_ms: 0.0,
                panel_ms: 0.0,
                gen: 0,
                run: None,
                finish: None,
            }));
            let mut pool = Pool {
                workers: Vec::with_capacity(n),
                _handlers: Vec::with_capacity(n),
                panel: panel.clone(),
                state: state.clone(),
            };
            let module = wasm_bindgen::module();
            for i in 0..n {
                let opts = WorkerOptions::new();
                opts.set_type(WorkerType::Module);
                let worker = Worker::new_with_options("/sweep-worker.js", &opts)
                    .map_err(|e| format!("starting a worker: {e:?}"))?;
                let w = worker.clone();
                let st = state.clone();
                let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
                    on_message(i, &w, &st, ev.data());
                });
                worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
                let init = js_sys::Object::new();
                set(&init, "type", &"init".into());
                set(&init, "module", &module);
                worker
                    .post_message(&init)
                    .map_err(|e| format!("messaging a worker: {e:?}"))?;
                // A copy of the columns per worker: transferring detaches them.
                let (msg, buffers) = panel_columns(&panel);
                worker
                    .post_message_with_transfer(&msg, &buffers)
                    .map_err(|e| format!("handing a worker the panel: {e:?}"))?;
                pool.workers.push(worker);
                pool._handlers.push(handler);
            }
            Ok(pool)
        }
    }

    fn on_message(i: usize, w: &Worker, st: &Rc<RefCell<State>>, data: JsValue) {
        let kind = get(&data, "type").as_string().unwrap_or_default();
        let ms = get(&data, "ms").as_f64().unwrap_or(0.0);
        match kind.as_str() {
            "init" => {
                let mut s = st.borrow_mut();
                s.init_ms = s.init_ms.max(ms);
            }
            "ready" => {
                {
                    let mut s = st.borrow_mut();
                    s.ready[i] = true;
                    s.panel_ms = s.panel_ms.max(ms);
                }
                dispatch(i, w, st);
            }
            "rows" => {
                let gen = get(&data, "gen").as_f64().unwrap_or(-1.0) as u64;
                let rows = get(&data, "rows").as_string().unwrap_or_default();
                let computed = get(&data, "computed").as_f64().unwrap_or(0.0) as u64;
                let reused = get(&data, "reused").as_f64().unwrap_or(0.0) as u64;
                let callbacks = {
                    let mut s = st.borrow_mut();
                    s.busy[i] = false;
                    let current = s.gen;
                    match s.run.as_mut() {
                        Some(run) if run.gen == gen && gen == current => {
                            run.outstanding -= 1;
                            run.timing.kernel_ms += ms;
                            run.timing.signals_computed += computed;
                            run.timing.signals_reused += reused;
                            Some((run.on_rows.clone(), run.on_error.clone()))
                        }
                        _ => None,
                    }
                };
                if let Some((on_rows, on_error)) = callbacks {
                    match serde_json::from_str::<Vec<SweepRow>>(&rows) {
                        Ok(rows) => on_rows(rows),
                        Err(e) => on_error(format!("a worker sent unreadable rows: {e}")),
                    }
                }
                dispatch(i, w, st);
                finish_if_done(st);
            }
            "finished" => {
                let result = get(&data, "result").as_string().unwrap_or_default();
                let on_finished = st.borrow_mut().finish.take();
                if let Some(f) = on_finished {
                    f(serde_json::from_str::<Finished>(&result)
                        .map_err(|e| format!("a worker sent an unreadable result: {e}")));
                }
            }
            _ if get(&data, "id").as_string().as_deref() == Some("finish") => {
                let message = get(&data, "message")
                    .as_string()
                    .unwrap_or_else(|| "the chosen point failed".into());
                let on_finished = st.borrow_mut().finish.take();
                if let Some(f) = on_finished {
                    f(Err(message));
                }
            }
            _ => {
                let message = get(&data, "message")
                    .as_string()
                    .unwrap_or_else(|| "a worker failed".into());
                // A chunk of an earlier run failing is that run's business, not this one's;
                // a failure outside any chunk (the panel, the module) fails the current run.
                let gen = get(&data, "gen").as_f64().map(|g| g as u64);
                let on_error = {
                    let mut s = st.borrow_mut();
                    if gen.is_some() {
                        s.busy[i] = false;
                    }
                    let current = s.run.as_ref().map(|r| r.gen);
                    match (gen, current) {
                        (Some(g), Some(c)) if g != c => None,
                        _ => s.run.take().map(|r| r.on_error),
                    }
                };
                if let Some(on_error) = on_error {
                    on_error(message);
                }
            }
        }
    }

    /// Sends the next chunk of the current run to worker `i`, if it is ready and idle.
    fn dispatch(i: usize, w: &Worker, st: &Rc<RefCell<State>>) {
        let mut s = st.borrow_mut();
        if !s.ready[i] || s.busy[i] {
            return;
        }
        let all_ready = s.ready.iter().all(|r| *r);
        let (spawned, init_ms, panel_ms) = (s.spawned, s.init_ms, s.panel_ms);
        let Some(run) = s.run.as_mut() else { return };
        if all_ready && !run.timing.warm && run.timing.startup_ms == 0.0 {
            run.timing.startup_ms = now() - run.started.max(spawned);
            run.timing.worker_init_ms = init_ms;
            run.timing.worker_panel_ms = panel_ms;
        }
        let Some((start, end)) = run.queue.pop_front() else {
            return;
        };
        let job = Job {
            backtest: run.backtest.clone(),
            sweep: run.sweep.clone(),
            start,
            end,
        };
        let msg = js_sys::Object::new();
        set(&msg, "type", &"chunk".into());
        set(&msg, "id", &JsValue::from_f64(start as f64));
        set(&msg, "gen", &JsValue::from_f64(run.gen as f64));
        set(
            &msg,
            "job",
            &serde_json::to_string(&job).unwrap_or_default().into(),
        );
        run.outstanding += 1;
        s.busy[i] = true;
        drop(s);
        let _ = w.post_message(&msg);
    }

    fn finish_if_done(st: &Rc<RefCell<State>>) {
        let done = {
            let mut s = st.borrow_mut();
            let finished = matches!(&s.run, Some(r) if r.queue.is_empty() && r.outstanding == 0);
            if finished {
                s.run.take().map(|mut r| {
                    r.timing.wall_ms = now() - r.started;
                    r.timing.point_ms = if r.timing.points > 0 {
                        r.timing.kernel_ms / r.timing.points as f64
                    } else {
                        0.0
                    };
                    (r.on_done, r.timing)
                })
            } else {
                None
            }
        };
        if let Some((on_done, timing)) = done {
            on_done(timing);
        }
    }

    /// Starts a sweep of `n_points` on the pool (started now if there is none, or if it holds
    /// another panel). `on_rows` gets each chunk's rows as they arrive, `on_done` the run's
    /// timing after the last, `on_error` the first failure (the run then stops).
    ///
    /// # Errors
    /// The browser refused to start a worker or to message it.
    pub fn start_sweep(
        panel: Arc<Panel>,
        backtest: BacktestSpec,
        sweep: SweepSpec,
        n_points: usize,
        on_rows: impl Fn(Vec<SweepRow>) + 'static,
        on_error: impl Fn(String) + 'static,
        on_done: impl Fn(RunTiming) + 'static,
    ) -> Result<(), String> {
        RETIRED.with(|r| r.borrow_mut().clear());
        let started = now();
        POOL.with(|p| -> Result<(), String> {
            let mut p = p.borrow_mut();
            if !matches!(&*p, Some(pool) if Arc::ptr_eq(&pool.panel, &panel)) {
                if let Some(old) = p.take() {
                    RETIRED.with(|r| r.borrow_mut().push(old));
                }
                *p = Some(Pool::spawn(panel)?);
            }
            let pool = p.as_ref().expect("spawned above");
            let mut s = pool.state.borrow_mut();
            s.gen += 1;
            let gen = s.gen;
            let warm = s.ready.iter().all(|r| *r);
            s.run = Some(Run {
                gen,
                queue: chunks(n_points, pool.workers.len()).into(),
                backtest,
                sweep,
                outstanding: 0,
                on_rows: Rc::new(on_rows),
                on_error: Rc::new(on_error),
                on_done: Rc::new(on_done),
                started,
                timing: RunTiming {
                    workers: pool.workers.len(),
                    points: n_points,
                    warm,
                    ..RunTiming::default()
                },
            });
            Ok(())
        })?;
        // Hand work to every worker that is ready now; the others start when they report.
        let (workers, state) = POOL.with(|p| {
            let p = p.borrow();
            let pool = p.as_ref().expect("started above");
            (pool.workers.clone(), pool.state.clone())
        });
        for (i, w) in workers.iter().enumerate() {
            dispatch(i, w, &state);
        }
        finish_if_done(&state);
        Ok(())
    }

    /// Runs a finish job (the chosen point out of sample, the walk-forward curve) on the pool's
    /// first worker, after whatever it is doing; its answer goes to `on_finished` (a later
    /// finish job replaces the wait for an earlier one).
    pub fn finish(job: &FinishJob, on_finished: impl Fn(Result<Finished, String>) + 'static) {
        let target = POOL.with(|p| {
            p.borrow().as_ref().and_then(|pool| {
                pool.state.borrow_mut().finish = Some(Rc::new(on_finished));
                pool.workers.first().cloned()
            })
        });
        let Some(w) = target else { return };
        let msg = js_sys::Object::new();
        set(&msg, "type", &"finish".into());
        set(&msg, "id", &"finish".into());
        set(
            &msg,
            "job",
            &serde_json::to_string(job).unwrap_or_default().into(),
        );
        let _ = w.post_message(&msg);
    }

    /// Stops the current run at once: its workers are terminated mid-chunk and a fresh set is
    /// started in the background on the same panel, so the next run is warm again.
    pub fn cancel() {
        let panel = POOL.with(|p| {
            p.borrow_mut().take().map(|old| {
                let panel = old.panel.clone();
                old.state.borrow_mut().run = None;
                for w in &old.workers {
                    w.terminate();
                }
                RETIRED.with(|r| r.borrow_mut().push(old));
                panel
            })
        });
        if let Some(panel) = panel {
            if let Ok(pool) = Pool::spawn(panel) {
                POOL.with(|p| *p.borrow_mut() = Some(pool));
            }
        }
    }

    /// [`cancel`] if a run is going (the page that started it is going away: its callbacks
    /// must not run any more); otherwise the workers stay warm.
    pub fn cancel_if_running() {
        let running = POOL.with(|p| {
            p.borrow()
                .as_ref()
                .is_some_and(|pool| pool.state.borrow().run.is_some())
        });
        if running {
            cancel();
        }
    }
}

pub use imp::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_point_once_in_order() {
        for (n, w) in [(0, 2), (1, 2), (63, 2), (1000, 2), (1000, 8), (7, 1)] {
            let c = chunks(n, w);
            let mut next = 0;
            for (s, e) in &c {
                assert_eq!(*s, next);
                assert!(e > s && e - s <= 50);
                next = *e;
            }
            assert_eq!(next, n);
        }
        // 1,000 points on two workers: 62 chunks of 16 or fewer, enough to balance the end.
        assert!(chunks(1000, 2).len() >= 16);
    }

    #[test]
    fn the_summary_names_warm_and_cold_starts() {
        let t = RunTiming {
            workers: 2,
            point_ms: 2.5,
            startup_ms: 310.0,
            ..RunTiming::default()
        };
        assert!(t.summary().contains("workers started in 310 ms"));
        let w = RunTiming { warm: true, ..t };
        assert!(w.summary().contains("workers warm"));
    }
}
