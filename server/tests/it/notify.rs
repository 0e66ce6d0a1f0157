//! Notification delivery against receivers on loopback started by the test: a webhook receiver
//! (axum) and an SMTP server (a few lines of the protocol over a TCP listener), each able to
//! refuse the first N attempts. Retries with backoff, records of every delivery (`sent` /
//! `failed`, attempts, last error), payload shapes, and that sending never waits for delivery.

use app::api::{PlanDetail, PlanLine, PlanSummary, RiskCheck, RiskReport};
use axum::http::StatusCode;
use server::notify::{Deliveries, Message, Notifier, NotifySettings};
use server::store::testing::{Engine, TestStore};
use server::store::Store;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A webhook receiver on 127.0.0.1: answers `fail_first` requests with `fail_status`, then 200;
/// keeps every body it got.
pub struct HookReceiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    pub hits: Arc<AtomicUsize>,
}

pub async fn hook_receiver(fail_first: usize, fail_status: u16) -> HookReceiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let (b, h) = (bodies.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/hook/{token}",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (b, h) = (b.clone(), h.clone());
            async move {
                let n = h.fetch_add(1, Ordering::SeqCst);
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                    b.lock().unwrap().push(v);
                }
                if n < fail_first {
                    (StatusCode::from_u16(fail_status).unwrap(), "try later")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    HookReceiver {
        url: format!("http://{addr}/hook/SECRET-TOKEN"),
        bodies,
        hits,
    }
}

/// An SMTP server on 127.0.0.1 speaking just enough of RFC 5321 for one plain-text message per
/// session. The first `fail_first` sessions get `fail_reply` to `MAIL FROM` (e.g. a 451
/// temporary failure); later ones are accepted and their DATA kept.
pub struct SmtpServer {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<String>>>,
    pub sessions: Arc<AtomicUsize>,
}

pub async fn smtp_server(fail_first: usize, fail_reply: &'static str) -> SmtpServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let sessions = Arc::new(AtomicUsize::new(0));
    let (m, s) = (messages.clone(), sessions.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let n = s.fetch_add(1, Ordering::SeqCst);
            let m = m.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                if say(&mut w, "220 localhost ESMTP test").await.is_err() {
                    return;
                }
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        "250 localhost".to_string()
                    } else if cmd.starts_with("MAIL FROM") {
                        if n < fail_first {
                            fail_reply.to_string()
                        } else {
                            "250 OK".into()
                        }
                    } else if cmd.starts_with("RCPT TO") {
                        "250 OK".into()
                    } else if cmd == "DATA" {
                        if say(&mut w, "354 go ahead").await.is_err() {
                            return;
                        }
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        m.lock().unwrap().push(data);
                        "250 queued".into()
                    } else if cmd == "QUIT" {
                        let _ = say(&mut w, "221 bye").await;
                        return;
                    } else if cmd == "RSET" || cmd == "NOOP" {
                        "250 OK".into()
                    } else {
                        "502 not implemented".into()
                    };
                    if say(&mut w, reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    SmtpServer {
        port,
        messages,
        sessions,
    }
}

async fn say(
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    line: impl AsRef<str>,
) -> std::io::Result<()> {
    w.write_all(format!("{}\r\n", line.as_ref()).as_bytes())
        .await
}

/// A plan with two orders and one dropped line: gross 30% → 50%, one risk check.
pub fn sample_plan() -> PlanDetail {
    let line = |symbol: &str, cur: f64, new: f64, dropped: Option<&str>| PlanLine {
        symbol: symbol.into(),
        mark_price: 10.0,
        current_units: 0.0,
        current_weight: cur,
        target_weight: new,
        new_weight: new,
        notional: 0.0,
        size: "1".into(),
        limit_price: "10.2".into(),
        reduce_only: false,
        action: app::api::PlanAction::Buy,
        dropped: dropped.map(Into::into),
        note: None,
        client_order_id: None,
    };
    PlanDetail {
        summary: PlanSummary {
            id: "plan-42".into(),
            status: app::api::PlanStatus::Proposed,
            broker: "paper".into(),
            created_at: 0,
            data_day: "2026-01-05".into(),
            equity: 1_234_567.5,
            orders: 2,
            dropped: 1,
            blocked: false,
            block_reasons: vec![],
            decided_by: None,
            decided_at: None,
            expires_at: 0,
            simulated: false,
        },
        config_version: "c".into(),
        config: serde_json::Value::Null,
        kernel_version: "k".into(),
        policy: "time".into(),
        lines: vec![
            line("AAA", 0.1, 0.3, None),
            line("BBB", -0.2, -0.15, None),
            line("CCC", 0.0, 0.05, Some("below the venue minimum")),
        ],
        targets: Default::default(),
        strategies: vec![],
        risk: RiskReport {
            checks: vec![RiskCheck {
                name: "max_gross_leverage".into(),
                limit: 1.5,
                value: 0.5,
                ok: true,
                detail: String::new(),
            }],
            kill_switch: false,
            blocked: false,
        },
        orders: vec![],
        note: None,
    }
}

fn settings(json: serde_json::Value) -> NotifySettings {
    serde_json::from_value(json).unwrap()
}

fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
}

async fn store() -> TestStore {
    TestStore::new(Engine::Sqlite, "notify").await.unwrap()
}

async fn records(store: &Store) -> Vec<app::api::NotificationRecord> {
    Deliveries { store }.recent(100).await.unwrap()
}

#[tokio::test]
async fn a_webhook_that_fails_twice_gets_the_message_on_the_third_try() {
    let ts = store().await;
    let hook = hook_receiver(2, 503).await;
    let n = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({
            "public_url": "https://lockstep.test/",
            "webhooks": [{"url_env": "LS_HOOK"}],
            "retry": {"attempts": 5, "initial_backoff_ms": 20, "max_backoff_ms": 100}
        })),
        None,
        &env_of(vec![("LS_HOOK", hook.url.clone())]),
    )
    .unwrap();
    assert_eq!(n.channels(), vec!["webhook:127.0.0.1".to_string()]);
    let plan = sample_plan();
    let started = Instant::now();
    n.send(Message::plan("plan.proposed", &plan, n.public_url(), 7));
    // Sending only starts the delivery.
    assert!(started.elapsed() < Duration::from_millis(50));
    assert!(n.flush(Duration::from_secs(10)).await);
    assert_eq!(hook.hits.load(Ordering::SeqCst), 3);
    let body = hook.bodies.lock().unwrap().last().cloned().unwrap();
    assert_eq!(body["event"], "plan.proposed");
    assert_eq!(body["link"], "https://lockstep.test/plans/plan-42");
    assert_eq!(body["plan"]["orders"], 2);
    // |0.1| + |-0.2| + 0 before; |0.3| + |-0.15| + |0.05| after.
    assert!((body["plan"]["gross_before"].as_f64().unwrap() - 0.3).abs() < 1e-12);
    assert!((body["plan"]["gross_after"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(body["plan"]["risk_checks"][0]["name"], "max_gross_leverage");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("2 order(s), 1 dropped; equity $1,234,567.50"),
        "{text}"
    );
    assert!(text.contains("gross exposure 30.0% → 50.0%"), "{text}");
    assert!(text.contains("risk checks: all 1 pass"), "{text}");
    assert!(
        text.ends_with("https://lockstep.test/plans/plan-42"),
        "{text}"
    );

    let recs = records(&ts.store).await;
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 3), "{r:?}");
    assert_eq!(r.channel, "webhook");
    assert_eq!(r.subject.as_deref(), Some("plan-42"));
    // The last failure is kept; the secret URL is nowhere.
    assert!(r.last_error.as_deref().unwrap().contains("503"), "{r:?}");
    assert!(!format!("{r:?}").contains("SECRET-TOKEN"));
}

#[tokio::test]
async fn smtp_that_refuses_twice_delivers_on_the_third_session() {
    let ts = store().await;
    let smtp = smtp_server(2, "451 4.3.0 mailbox busy, try again").await;
    let n = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({
            "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "tls": "none",
                      "from": "Lockstep <lockstep@example.com>", "to": ["desk@example.com", "cio@example.com"]},
            "retry": {"attempts": 4, "initial_backoff_ms": 20, "max_backoff_ms": 100}
        })),
        Some("http://127.0.0.1:3000"),
        &env_of(vec![]),
    )
    .unwrap();
    let mut plan = sample_plan();
    plan.summary.status = app::api::PlanStatus::Done;
    n.send(Message::plan("plan.done", &plan, n.public_url(), 7));
    assert!(n.flush(Duration::from_secs(10)).await);
    assert_eq!(smtp.sessions.load(Ordering::SeqCst), 3);
    let mails = smtp.messages.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(
        mail.contains("Subject: Lockstep plan for 2026-01-05 (paper) executed"),
        "{mail}"
    );
    assert!(
        mail.contains("desk@example.com") && mail.contains("cio@example.com"),
        "{mail}"
    );
    assert!(
        mail.contains("http://127.0.0.1:3000/plans/plan-42"),
        "{mail}"
    );
    let recs = records(&ts.store).await;
    assert_eq!(
        (recs[0].status.as_str(), recs[0].attempts),
        ("sent", 3),
        "{recs:?}"
    );
    assert_eq!(recs[0].channel, "email");
    assert!(recs[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("mailbox busy"));
}

#[tokio::test]
async fn final_refusals_are_not_retried_and_retries_end() {
    let ts = store().await;
    let refused = hook_receiver(usize::MAX, 400).await;
    let down = hook_receiver(usize::MAX, 500).await;
    let smtp = smtp_server(usize::MAX, "550 5.1.1 no such user").await;
    let n = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({
            "webhooks": [{"url_env": "A", "name": "refuses"}, {"url_env": "B", "name": "down", "format": "discord"}],
            "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "tls": "none",
                      "from": "ls@example.com", "to": ["x@example.com"]},
            "retry": {"attempts": 3, "initial_backoff_ms": 10, "max_backoff_ms": 20}
        })),
        None,
        &env_of(vec![("A", refused.url.clone()), ("B", down.url.clone())]),
    )
    .unwrap();
    n.send(Message::kill_switch(
        true,
        "alice",
        Some("venue outage"),
        None,
        1,
    ));
    assert!(n.flush(Duration::from_secs(10)).await);
    assert_eq!(refused.hits.load(Ordering::SeqCst), 1, "a 400 is final");
    assert_eq!(
        down.hits.load(Ordering::SeqCst),
        3,
        "a 500 is retried up to the limit"
    );
    assert_eq!(smtp.sessions.load(Ordering::SeqCst), 1, "SMTP 5xx is final");
    let body = down.bodies.lock().unwrap()[0].clone();
    assert_eq!(
        body["content"],
        "**Lockstep kill switch ON**\nalice turned the kill switch ON: no new orders are sent\nreason: venue outage"
    );
    let mut recs = records(&ts.store).await;
    recs.sort_by(|a, b| a.destination.cmp(&b.destination));
    let got: Vec<(&str, &str, u32)> = recs
        .iter()
        .map(|r| (r.destination.as_str(), r.status.as_str(), r.attempts))
        .collect();
    assert_eq!(
        got,
        vec![
            ("down", "failed", 3),
            (&*format!("email:127.0.0.1:{}", smtp.port), "failed", 1),
            ("refuses", "failed", 1)
        ]
    );
}

#[tokio::test]
async fn events_filter_and_missing_secrets() {
    let ts = store().await;
    let hook = hook_receiver(0, 200).await;
    let n = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({
            "events": ["kill_switch"],
            "webhooks": [{"url_env": "H", "format": "slack"}]
        })),
        None,
        &env_of(vec![("H", hook.url.clone())]),
    )
    .unwrap();
    n.send(Message::plan("plan.proposed", &sample_plan(), None, 1));
    n.send(Message::kill_switch(
        false,
        "bob",
        None,
        Some("https://ls.test"),
        2,
    ));
    assert!(n.flush(Duration::from_secs(5)).await);
    let bodies = hook.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "only the wanted event: {bodies:?}");
    assert_eq!(
        bodies[0]["text"],
        "*Lockstep kill switch off*\nbob turned the kill switch off: plans may execute again\n<https://ls.test/|Open in Lockstep>"
    );
    // A configured channel whose secret is missing is an error naming the variable.
    let e = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({"webhooks": [{"url_env": "NOT_SET_ANYWHERE"}]})),
        None,
        &env_of(vec![]),
    )
    .unwrap_err();
    assert!(e.contains("NOT_SET_ANYWHERE"), "{e}");
}

#[tokio::test]
async fn stale_data_is_told_once_per_data_day() {
    let ts = store().await;
    let hook = hook_receiver(0, 503).await;
    let n = Arc::new(
        Notifier::new(
            Arc::new(ts.store.clone()),
            &settings(serde_json::json!({"webhooks": [{"url_env": "LS_HOOK"}]})),
            None,
            &env_of(vec![("LS_HOOK", hook.url.clone())]),
        )
        .unwrap(),
    );
    let hub = server::live::events::Hub::default();
    hub.set_notifier(n.clone());
    let day = |s: &str| shared::Day::parse(s).unwrap();
    // The scheduler retries on the same stale day three times, then the next day is stale too.
    hub.stale(day("2026-01-05"), 30.0, 26.0, 1);
    hub.stale(day("2026-01-05"), 31.0, 26.0, 2);
    hub.stale(day("2026-01-05"), 32.0, 26.0, 3);
    hub.stale(day("2026-01-06"), 30.0, 26.0, 4);
    assert!(n.flush(Duration::from_secs(10)).await);
    let bodies = hook.bodies.lock().unwrap().clone();
    let events: Vec<&str> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["data.stale", "data.stale"], "{bodies:#?}");
    // Deliveries run concurrently: which arrives first is not fixed.
    let mut days: Vec<bool> = ["2026-01-05", "2026-01-06"]
        .iter()
        .map(|d| {
            bodies
                .iter()
                .any(|b| b["text"].as_str().unwrap().contains(d))
        })
        .collect();
    days.dedup();
    assert_eq!(days, vec![true], "{bodies:?}");
}

/// A channel hears its messages in the order they were sent, even when the first needs a retry:
/// "plan done" must not reach the desk after the "kill switch on" that followed it.
#[tokio::test]
async fn a_channel_hears_its_messages_in_order_even_across_retries() {
    let ts = store().await;
    // The first request fails; its retry comes 300 ms later, long after the second message
    // would have arrived if deliveries raced.
    let hook = hook_receiver(1, 503).await;
    let n = Notifier::new(
        Arc::new(ts.store.clone()),
        &settings(serde_json::json!({
            "webhooks": [{"url_env": "LS_HOOK"}],
            "retry": {"attempts": 3, "initial_backoff_ms": 300, "max_backoff_ms": 300}
        })),
        None,
        &env_of(vec![("LS_HOOK", hook.url.clone())]),
    )
    .unwrap();
    let plan = sample_plan();
    n.send(Message::plan("plan.done", &plan, n.public_url(), 7));
    n.send(Message::kill_switch(
        true,
        "tina",
        Some("venue outage"),
        n.public_url(),
        8,
    ));
    assert!(n.flush(Duration::from_secs(10)).await);
    let events: Vec<String> = hook
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, vec!["plan.done", "plan.done", "kill_switch"]);
    let recs = records(&ts.store).await;
    assert!(recs.iter().all(|r| r.status == "sent"), "{recs:?}");
}
