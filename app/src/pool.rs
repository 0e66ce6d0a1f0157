//! The sweep worker pool: one module worker per core running `public/sweep-worker.js`, kept
//! alive between runs (and between visits to the Sweep page) so that only the first run pays
//! for starting them.
//!
//! Start-up, once per page load ([`warm`], as soon as the Sweep page has its panel, so the
//! first run finds the workers ready): each worker gets the page's own compiled WebAssembly module
//! (no second download or compile) and the page's decoded panel as transferred
//! `Float64Array` columns (no second download or decode; [`crate::worker::panel_columns`]).
//! A run queues its grid in small chunks and hands the next chunk to whichever worker answers.
//! Cancel terminates the workers at once (a chunk in flight is not waited for) and starts a
//! fresh set in the background, so the next run is warm again.
//!
//! After the last row the pool sends the run's rows (the chunks' JSON strings as the workers
//! sent them) to one worker, which computes the statistics ([`crate::worker::summarize_chunks`]:
//! DSR, CSCV/PBO, the walk-forward's choices): the page's thread only renders.
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
    /// The worker's time for the run's statistics (DSR, PBO, walk-forward choices), and click
    /// to the statistics back on the page (0 until they are).
    #[serde(default)]
    pub summary_ms: f64,
    #[serde(default)]
    pub summary_wall_ms: f64,
}

impl RunTiming {
    /// One line for people.
    pub fn summary(&self) -> String {
        let start = if self.warm {
            "workers warm".to_string()
        } else {
            format!("workers started in {:.0} ms", self.startup_ms)
        };
        let stats = if self.summary_wall_ms > 0.0 {
            format!(" · statistics in a worker: {:.0} ms", self.summary_ms)
        } else {
            String::new()
        };
        format!(
            "{} workers · {start} · {:.2} ms a point per worker · {} signal records computed, {} reused{stats}",
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
    use shared::Panel;
    use std::sync::Arc;

    pub fn warm(_panel: Arc<Panel>, _on_ready: impl Fn(usize) + 'static) {}
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
    use shared::research::summary::Summary;
    use shared::sweep::SweepRow;
    use shared::universe::VenueUniverse;
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
    type SummaryFn = Rc<dyn Fn(Result<Summary, String>, RunTiming)>;

    /// What a run reports, and when: `on_rows` each chunk's rows as they arrive, `on_done` the
    /// run's timing after the last row, `on_summary` the statistics of all its rows (computed
    /// in a worker) with the timing completed, `on_error` the first failure (the run stops).
    pub struct RunCallbacks {
        pub on_rows: Box<dyn Fn(Vec<SweepRow>)>,
        pub on_error: Box<dyn Fn(String)>,
        pub on_done: Box<dyn Fn(RunTiming)>,
        pub on_summary: Box<dyn Fn(Result<Summary, String>, RunTiming)>,
    }

    struct Run {
        gen: u64,
        queue: VecDeque<(usize, usize)>,
        backtest: BacktestSpec,
        sweep: SweepSpec,
        /// The venue's universe the points trade in ([`Job::universe`]).
        universe: Option<VenueUniverse>,
        outstanding: usize,
        on_rows: RowsFn,
        on_error: ErrorFn,
        on_done: DoneFn,
        on_summary: SummaryFn,
        /// The chunks' `rows` strings as received, for the statistics after the last row.
        chunks: js_sys::Array,
        /// The run's [`shared::research::evaluation::Evaluation`] as JSON.
        evaluation: String,
        started: f64,
        timing: RunTiming,
    }

    /// A run whose rows are all in, waiting for its statistics.
    struct Summarizing {
        gen: u64,
        on_summary: SummaryFn,
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
        summarizing: Option<Summarizing>,
        /// Who waits for the finish job sent last, and its number: a late answer to an earlier
        /// one is dropped.
        finish: Option<(u64, FinishedFn)>,
        finish_seq: u64,
        /// Told once every worker holds the panel (see [`warm`]).
        on_ready: Option<Box<dyn Fn(usize)>>,
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
                summarizing: None,
                finish: None,
                finish_seq: 0,
                on_ready: None,
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
                let all_ready = {
                    let mut s = st.borrow_mut();
                    s.ready[i] = true;
                    s.panel_ms = s.panel_ms.max(ms);
                    let n = s.ready.len();
                    s.ready
                        .iter()
                        .all(|r| *r)
                        .then(|| s.on_ready.take().map(|f| (f, n)))
                        .flatten()
                };
                if let Some((on_ready, n)) = all_ready {
                    on_ready(n);
                }
                dispatch(i, w, st);
            }
            "rows" => {
                let gen = get(&data, "gen").as_f64().unwrap_or(-1.0) as u64;
                let raw = get(&data, "rows");
                let rows = raw.as_string().unwrap_or_default();
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
                            run.chunks.push(&raw);
                            Some((run.on_rows.clone(), run.on_error.clone()))
                        }
                        _ => None,
                    }
                };
                // The worker's next chunk (or, after the last, the run's statistics) first: it
                // computes while this thread reads and shows the rows.
                dispatch(i, w, st);
                finish_if_done(st, w);
                if let Some((on_rows, on_error)) = callbacks {
                    match crate::worker::page_rows(&rows) {
                        Ok(rows) => on_rows(rows),
                        Err(e) => on_error(format!("a worker sent unreadable rows: {e}")),
                    }
                }
            }
            "summary" => {
                let result = get(&data, "result").as_string().unwrap_or_default();
                summarized(st, &data, ms, |_| {
                    serde_json::from_str::<Summary>(&result)
                        .map_err(|e| format!("a worker sent unreadable statistics: {e}"))
                });
            }
            "finished" => {
                let result = get(&data, "result").as_string().unwrap_or_default();
                if let Some(f) = take_finish(st, &data) {
                    f(serde_json::from_str::<Finished>(&result)
                        .map_err(|e| format!("a worker sent an unreadable result: {e}")));
                }
            }
            _ if get(&data, "id").as_string().as_deref() == Some("summarize") => {
                summarized(st, &data, ms, |data| {
                    Err(get(data, "message")
                        .as_string()
                        .unwrap_or_else(|| "the statistics failed".into()))
                });
            }
            _ if get(&data, "id").as_string().as_deref() == Some("finish") => {
                let message = get(&data, "message")
                    .as_string()
                    .unwrap_or_else(|| "the chosen point failed".into());
                if let Some(f) = take_finish(st, &data) {
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
            universe: run.universe.clone(),
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

    /// The waiter for the finish job this answer belongs to, if it is the one sent last.
    fn take_finish(st: &Rc<RefCell<State>>, data: &JsValue) -> Option<FinishedFn> {
        let seq = get(data, "gen").as_f64().map(|g| g as u64);
        let mut s = st.borrow_mut();
        match &s.finish {
            Some((want, _)) if Some(*want) == seq => s.finish.take().map(|(_, f)| f),
            _ => None,
        }
    }

    /// A worker's answer to the summarize request of run `gen`: handed to that run's
    /// `on_summary` with the timing completed, unless a newer run started meanwhile.
    fn summarized(
        st: &Rc<RefCell<State>>,
        data: &JsValue,
        ms: f64,
        result: impl FnOnce(&JsValue) -> Result<Summary, String>,
    ) {
        let gen = get(data, "gen").as_f64().map(|g| g as u64);
        let waiting = {
            let mut s = st.borrow_mut();
            match &s.summarizing {
                Some(w) if Some(w.gen) == gen && w.gen == s.gen => s.summarizing.take(),
                _ => None,
            }
        };
        if let Some(mut w) = waiting {
            w.timing.summary_ms = ms;
            w.timing.summary_wall_ms = now() - w.started;
            (w.on_summary)(result(data), w.timing);
        }
    }

    /// After the last row: the run's timing to `on_done`, and its rows to worker `w` (idle now)
    /// for the statistics.
    fn finish_if_done(st: &Rc<RefCell<State>>, w: &Worker) {
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
                    let msg = js_sys::Object::new();
                    set(&msg, "type", &"summarize".into());
                    set(&msg, "id", &"summarize".into());
                    set(&msg, "gen", &JsValue::from_f64(r.gen as f64));
                    set(&msg, "evaluation", &r.evaluation.clone().into());
                    set(&msg, "chunks", &r.chunks);
                    s.summarizing = Some(Summarizing {
                        gen: r.gen,
                        on_summary: r.on_summary,
                        started: r.started,
                        timing: r.timing.clone(),
                    });
                    (r.on_done, r.timing, msg)
                })
            } else {
                None
            }
        };
        if let Some((on_done, timing, msg)) = done {
            // Posted first, so the worker computes while the page renders the last rows.
            let _ = w.post_message(&msg);
            on_done(timing);
        }
    }

    /// Makes sure the pool runs on `panel` (started now if there is none, or if it holds
    /// another panel).
    fn ensure(p: &mut Option<Pool>, panel: Arc<Panel>) -> Result<(), String> {
        if !matches!(&*p, Some(pool) if Arc::ptr_eq(&pool.panel, &panel)) {
            if let Some(old) = p.take() {
                RETIRED.with(|r| r.borrow_mut().push(old));
            }
            *p = Some(Pool::spawn(panel)?);
        }
        Ok(())
    }

    /// Starts the workers on `panel` now, if they are not running on it already: the Sweep page
    /// calls it once its panel is in, so the first run finds them ready. `on_ready` is told the
    /// number of workers once every one holds the panel (at once if they already do). A
    /// browser that refuses workers is told again, by name, when a run starts.
    pub fn warm(panel: Arc<Panel>, on_ready: impl Fn(usize) + 'static) {
        RETIRED.with(|r| r.borrow_mut().clear());
        let mut waiting = Some(on_ready);
        let ready_now = POOL.with(|p| {
            let mut p = p.borrow_mut();
            ensure(&mut p, panel).ok()?;
            let pool = p.as_ref()?;
            let mut s = pool.state.borrow_mut();
            if s.ready.iter().all(|r| *r) {
                Some(s.ready.len())
            } else {
                if let Some(f) = waiting.take() {
                    s.on_ready = Some(Box::new(f));
                }
                None
            }
        });
        if let (Some(n), Some(f)) = (ready_now, waiting) {
            f(n);
        }
    }

    /// Starts a sweep of `n_points` on the pool (started now if there is none, or if it holds
    /// another panel); see [`RunCallbacks`] for what it reports.
    ///
    /// # Errors
    /// The browser refused to start a worker or to message it.
    pub fn start_sweep(
        panel: Arc<Panel>,
        backtest: BacktestSpec,
        sweep: SweepSpec,
        universe: Option<VenueUniverse>,
        n_points: usize,
        callbacks: RunCallbacks,
    ) -> Result<(), String> {
        RETIRED.with(|r| r.borrow_mut().clear());
        let started = now();
        let evaluation = serde_json::to_string(&sweep.evaluation.clone().unwrap_or_default())
            .map_err(|e| format!("the sweep's evaluation: {e}"))?;
        POOL.with(|p| -> Result<(), String> {
            let mut p = p.borrow_mut();
            ensure(&mut p, panel)?;
            let pool = p.as_ref().expect("spawned above");
            let mut s = pool.state.borrow_mut();
            s.gen += 1;
            let gen = s.gen;
            let warm = s.ready.iter().all(|r| *r);
            s.summarizing = None;
            s.run = Some(Run {
                gen,
                queue: chunks(n_points, pool.workers.len()).into(),
                backtest,
                sweep,
                universe,
                outstanding: 0,
                on_rows: Rc::from(callbacks.on_rows),
                on_error: Rc::from(callbacks.on_error),
                on_done: Rc::from(callbacks.on_done),
                on_summary: Rc::from(callbacks.on_summary),
                chunks: js_sys::Array::new(),
                evaluation,
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
        if let Some(w) = workers.first() {
            finish_if_done(&state, w);
        }
        Ok(())
    }

    /// Runs a finish job (the chosen point out of sample, the walk-forward curve) on the pool's
    /// first worker, after whatever it is doing; its answer goes to `on_finished` (a later
    /// finish job replaces the wait for an earlier one).
    pub fn finish(job: &FinishJob, on_finished: impl Fn(Result<Finished, String>) + 'static) {
        let target = POOL.with(|p| {
            p.borrow().as_ref().and_then(|pool| {
                let mut s = pool.state.borrow_mut();
                s.finish_seq += 1;
                let seq = s.finish_seq;
                s.finish = Some((seq, Rc::new(on_finished)));
                pool.workers.first().cloned().map(|w| (w, seq))
            })
        });
        let Some((w, seq)) = target else { return };
        let msg = js_sys::Object::new();
        set(&msg, "type", &"finish".into());
        set(&msg, "id", &"finish".into());
        set(&msg, "gen", &JsValue::from_f64(seq as f64));
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
                {
                    let mut s = old.state.borrow_mut();
                    s.run = None;
                    s.summarizing = None;
                }
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
    /// must not run any more); otherwise the workers stay warm, and answers still due for the
    /// page (statistics, a finish job) go to nobody.
    pub fn cancel_if_running() {
        let running = POOL.with(|p| {
            p.borrow().as_ref().is_some_and(|pool| {
                let mut s = pool.state.borrow_mut();
                s.summarizing = None;
                s.finish = None;
                s.on_ready = None;
                s.run.is_some()
            })
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
