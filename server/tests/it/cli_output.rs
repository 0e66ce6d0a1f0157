//! What the `lockstep` binary writes to stdout: the plan print (`lockstep live`), and that a
//! closed stdout (`lockstep … | head`) ends a command quietly with success instead of a panic.

use app::api::{PlanDetail, PlanLine, PlanSummary, RiskReport};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `lockstep ARGS` with its stdout a pipe nobody reads (the read end closed before the
/// start, as after `head` has exited): returns the exit status and stderr.
fn run_with_closed_stdout(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lockstep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Regression: `println!` on a closed stdout panicked ("failed printing to stdout: Broken
/// pipe", exit status 101).
#[test]
fn a_closed_stdout_ends_a_println_command_quietly() {
    let dir = temp_dir("closed-stdout");
    let db = format!("sqlite://{}/cli.db", dir.display());
    // `user list` on a fresh store prints its one line with `println!`.
    let (status, stderr) = run_with_closed_stdout(&["--database-url", &db, "user", "list"]);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The commands that write with `?` (`backtest --out -` writes its JSON with `write_all`) get a
/// `BrokenPipe` error back: quiet success too, not "Error: Broken pipe".
#[test]
fn a_closed_stdout_ends_a_command_that_returns_the_write_error_quietly() {
    let dir = temp_dir("closed-stdout-json");
    // A small market in the predecessor's daily-bar format: 3 assets, 120 days.
    let mut csv = std::fs::File::create(dir.join("coinbase_top200_daily.csv")).unwrap();
    writeln!(csv, "date,symbol,base,open,high,low,close,volume").unwrap();
    for d in 0..120 {
        let day = shared::Day(shared::Day::from_ymd(2024, 1, 1).unwrap().0 + d);
        for (k, base) in ["AAA", "BBB", "CCC"].iter().enumerate() {
            let c = 10.0 * (k + 1) as f64 + (f64::from(d) * (0.3 + k as f64)).sin();
            writeln!(
                csv,
                "{day},{base}/USD,{base},{c},{},{},{c},1000",
                c + 0.5,
                c - 0.5
            )
            .unwrap();
        }
    }
    drop(csv);
    let data = dir.display().to_string();
    let db = format!("sqlite://{}/unused.db", dir.display());
    let (status, stderr) = run_with_closed_stdout(&[
        "--database-url",
        &db,
        "backtest",
        "--data",
        &data,
        "--out",
        "-",
    ]);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn line(symbol: &str, action: &str, dropped: Option<&str>, note: Option<&str>) -> PlanLine {
    PlanLine {
        symbol: symbol.into(),
        mark_price: 0.25,
        current_units: 1198.5,
        current_weight: 0.03,
        target_weight: 0.0,
        new_weight: 0.0,
        notional: -299.625,
        size: "-1198".into(),
        limit_price: "0.2475".into(),
        reduce_only: true,
        action: action.parse().unwrap(),
        dropped: dropped.map(str::to_string),
        note: note.map(str::to_string),
        client_order_id: None,
    }
}

/// Regression: a line's `note` (the dust an exit leaves) was in the plan but printed nowhere.
#[test]
fn the_plan_print_shows_each_lines_note_after_its_dropped_reason() {
    let plan = PlanDetail {
        summary: PlanSummary {
            id: "p1".into(),
            status: app::api::PlanStatus::Proposed,
            broker: "paper".into(),
            created_at: 0,
            data_day: "2026-01-01".into(),
            equity: 10_000.0,
            orders: 1,
            dropped: 2,
            blocked: false,
            block_reasons: vec![],
            decided_by: None,
            decided_at: None,
            expires_at: 0,
            simulated: false,
        },
        config_version: "c1".into(),
        config: serde_json::Value::Null,
        kernel_version: "k1".into(),
        policy: "time".into(),
        lines: vec![
            line(
                "DOGE",
                "sell",
                None,
                Some("closes 1198 of them and leaves 0.5 as dust"),
            ),
            line("XYZ", "buy", Some("not listed on the venue"), None),
            line("ABC", "sell", Some("below the venue minimum"), Some("dust")),
            line("HELD", "hold", None, Some("never shown: no trade")),
        ],
        targets: Default::default(),
        strategies: vec![],
        risk: RiskReport {
            checks: vec![],
            kill_switch: false,
            blocked: false,
        },
        orders: vec![],
        note: None,
    };
    let text = server::commands::live::render_plan(&plan);
    let row = |symbol: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(symbol))
            .unwrap_or_else(|| panic!("no {symbol} row in\n{text}"))
            .to_string()
    };
    assert!(
        row("DOGE").ends_with("  closes 1198 of them and leaves 0.5 as dust"),
        "{text}"
    );
    assert!(row("XYZ").ends_with("  not listed on the venue"), "{text}");
    assert!(
        row("ABC").ends_with("  below the venue minimum; dust"),
        "{text}"
    );
    assert!(!text.contains("HELD"), "{text}");
    assert!(!text.contains("SIMULATED"), "a real plan: {text}");
    assert!(
        text.contains("1 symbol(s) within the rebalance band"),
        "{text}"
    );
}

/// A small market in the predecessor's daily-bar format: `assets` coins over `days` days ending
/// yesterday (so the live cycle finds its data fresh).
fn write_market(dir: &std::path::Path, assets: usize, days: i32) {
    let mut csv = std::fs::File::create(dir.join("coinbase_top200_daily.csv")).unwrap();
    writeln!(csv, "date,symbol,base,open,high,low,close,volume").unwrap();
    let today = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400) as i32;
    for d in 0..days {
        let day = shared::Day(today - days + d);
        for k in 0..assets {
            let base = format!("C{k:02}");
            let c = 10.0 * (k + 1) as f64 + (f64::from(d) * (0.3 + k as f64 * 0.17)).sin() * 3.0;
            writeln!(
                csv,
                "{day},{base}/USD,{base},{c},{},{},{c},{}",
                c + 0.5,
                c - 0.5,
                1_000_000 + k * 1000
            )
            .unwrap();
        }
    }
}

/// What a piped run of `lockstep ARGS` wrote: status, stdout, stderr. `RUST_LOG` is left at
/// its default, so the INFO lines every command logs are there to get in the way.
fn run_piped(args: &[&str], envs: &[(&str, &str)]) -> (std::process::ExitStatus, Vec<u8>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("LOCKSTEP_LIVE_SETTINGS")
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status,
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses all of a command's stdout as one JSON document, failing with what it got.
fn parse_all(what: &str, stdout: &[u8], stderr: &str) -> serde_json::Value {
    assert!(
        !stderr.contains('\u{1b}'),
        "{what}: colour codes on a piped stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains('\r'),
        "{what}: a progress bar on a piped stderr:\n{stderr}"
    );
    serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not pure JSON ({e}):\n{}\n--- stderr:\n{stderr}",
            String::from_utf8_lossy(stdout)
        )
    })
}

/// Regression: `lockstep parity --json | jq .` failed: an INFO log line with colour codes went
/// to stdout before the JSON. Every machine-output command (`--json`, `--out -`, `targets`) is
/// run here with its stdout a pipe, and all of it must parse; logs go to a stderr without
/// colour codes.
#[test]
fn every_machine_output_parses_when_piped() {
    let dir = temp_dir("machine-output");
    write_market(&dir, 8, 260);
    let data = dir.display().to_string();
    let db = format!("sqlite://{}/store.db", dir.display());
    let settings = dir.join("live.json");
    std::fs::write(
        &settings,
        // Risk limits that block nothing: the demo's auto-approved plans execute on paper.
        r#"{"max_data_age_hours": 100000, "scheduler": false, "refresh": false,
            "risk": {"max_gross_leverage": 100, "max_weight_per_symbol": 100,
                     "max_order_notional": 1e12, "max_daily_turnover": 1e6}}"#,
    )
    .unwrap();
    let settings = settings.display().to_string();
    let live_env = [("LOCKSTEP_LIVE_SETTINGS", settings.as_str())];

    let (status, _, stderr) = run_piped(&["--database-url", &db, "import", &data], &[]);
    assert!(status.success(), "import: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "import: {stderr}");

    let (status, out, err) = run_piped(&["--database-url", &db, "targets"], &[]);
    assert!(status.success(), "{err}");
    let v = parse_all("targets", &out, &err);
    assert!(v.is_object(), "{v}");
    let (status, out, err) = run_piped(&["targets", "--data", &data], &[]);
    assert!(status.success(), "{err}");
    parse_all("targets --data", &out, &err);

    let (status, out, err) = run_piped(&["--database-url", &db, "backtest", "--out", "-"], &[]);
    assert!(status.success(), "{err}");
    let v = parse_all("backtest --out -", &out, &err);
    assert!(v["equity"].is_array(), "{v}");

    let (status, out, err) = run_piped(
        &[
            "--database-url",
            &db,
            "sweep",
            "--axis",
            "leverage=0.5,1",
            "--threads",
            "1",
            "--out",
            "-",
        ],
        &[],
    );
    assert!(status.success(), "{err}");
    let v = parse_all("sweep --out -", &out, &err);
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(2), "{v}");

    let (status, out, err) = run_piped(&["--database-url", &db, "data", "status", "--json"], &[]);
    assert!(status.success(), "{err}");
    parse_all("data status --json", &out, &err);

    let (status, out, err) = run_piped(
        &["--database-url", &db, "demo", "--days", "5", "--json"],
        &live_env,
    );
    assert!(status.success(), "{err}");
    let run = parse_all("demo --json", &out, &err);
    assert_eq!(
        (run["status"].as_str(), run["plans"].as_u64()),
        (Some("done"), Some(5)),
        "{run}"
    );

    let (status, out, err) = run_piped(
        &["--database-url", &db, "live", "--json", "--no-refresh"],
        &live_env,
    );
    assert!(status.success(), "{err}");
    let plan = parse_all("live --json", &out, &err);
    let plan_id = plan["summary"]["id"]
        .as_str()
        .expect("a plan id")
        .to_string();
    // The INFO lines are there, on stderr, uncoloured.
    assert!(err.contains("INFO"), "{err}");

    let (status, out, err) = run_piped(
        &["--database-url", &db, "live", "replay", &plan_id, "--json"],
        &live_env,
    );
    assert!(status.success(), "{err}");
    let v = parse_all("live replay --json", &out, &err);
    assert_eq!(v["identical"], true, "{v}");

    let (status, out, err) = run_piped(
        &["--database-url", &db, "live", "audit", "--json"],
        &live_env,
    );
    assert!(status.success(), "{err}");
    parse_all("live audit --json", &out, &err);

    let (status, out, err) = run_piped(&["--database-url", &db, "parity", "--json"], &live_env);
    // 0 (all checks hold) or 3 (findings): both print the report.
    assert!(matches!(status.code(), Some(0 | 3)), "{status}: {err}");
    let v = parse_all("parity --json", &out, &err);
    assert!(v["checks"].is_array(), "{v}");
    assert!(
        err.contains("built the panel"),
        "the INFO line is on stderr: {err}"
    );

    // Reconciling one of the demo's (done, simulated) plans: the plan as JSON.
    let demo_plan = v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["plan_status"] == "done")
        .and_then(|s| s["plan_id"].as_str())
        .unwrap_or_else(|| panic!("a done demo plan in {v}"))
        .to_string();
    let (status, out, err) = run_piped(
        &[
            "--database-url",
            &db,
            "live",
            "reconcile",
            &demo_plan,
            "--json",
        ],
        &live_env,
    );
    assert!(status.success(), "{err}");
    let v = parse_all("live reconcile --json", &out, &err);
    assert_eq!(v["summary"]["id"], demo_plan.as_str(), "{v}");
    assert_eq!(v["summary"]["simulated"], true, "{v}");

    for (state, active) in [("on", true), ("off", false)] {
        let (status, out, err) = run_piped(
            &[
                "--database-url",
                &db,
                "live",
                "kill-switch",
                state,
                "--reason",
                "piped test",
                "--json",
            ],
            &live_env,
        );
        assert!(status.success(), "{err}");
        let v = parse_all(&format!("live kill-switch {state} --json"), &out, &err);
        assert_eq!(v["active"], active, "{v}");
    }

    let _ = std::fs::remove_dir_all(&dir);
}
