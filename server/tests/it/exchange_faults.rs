//! Network faults on the loopback Hyperliquid exchange, through the whole live path (plan →
//! approval → the real Hyperliquid broker → the store): the order lands but the answer times
//! out, a 502 after the order landed, a garbage body after the send, 429s with `Retry-After`.
//! In each the venue goes dark (or keeps refusing) long enough that the broker cannot learn the
//! order's fate, so it is recorded `unknown` — never `rejected` — and the plan stays
//! `executing`; once the venue answers again, Reconcile asks it by client order id (orderStatus
//! and the fills), records what it says and sends only what the venue does not have. Every
//! client order id reaches the venue once and the plan ends `done`. And the kill switch turned
//! on between two of the broker's status polls stops the batch: no resend, no further order.

use std::sync::Arc;
use std::time::Duration;

use server::broker::hyperliquid::signing::HyperliquidSigner;
use server::live::{hyperliquid_broker, FixedClock, LiveService, LiveSettings};
use server::store::market::SourceKind;
use server::store::testing::{Engine, TestStore};
use shared::config::Config;

use crate::common::{cycle_on, panel_records};
use crate::exchange::{
    assert_fills, assert_sent_as_planned, live_fills, order_lines, panel_with_venue_coins,
    test_config, AfterRecord, Mock, SDK_TEST_KEY,
};

struct Rig {
    t: TestStore,
    live: Arc<LiveService>,
    mock: Mock,
    plan: String,
}

/// A store with the venue-coin market, the Hyperliquid broker on a fresh mock (status polls
/// `poll_delay` apart) and a proposed plan.
async fn rig(tag: &str, poll_delay: Duration) -> Rig {
    let t = TestStore::new(Engine::Sqlite, tag).await.unwrap();
    let n = 400;
    let panel = panel_with_venue_coins(n - 2);
    t.store
        .register_source("synthetic", SourceKind::Synthetic, "test panel")
        .await
        .unwrap();
    t.store
        .upsert("synthetic", &panel_records(&panel, n - 2))
        .await
        .unwrap();
    let signer = HyperliquidSigner::from_hex(SDK_TEST_KEY).unwrap();
    let mock = Mock::start(signer.address(), signer.address()).await;
    let settings = LiveSettings::default();
    let mut venue = test_config(&mock.url);
    venue.reconcile_delay = poll_delay;
    let broker = hyperliquid_broker(&settings, venue, signer).unwrap();
    let clock = Arc::new(FixedClock::new(0));
    let live = LiveService::new(
        Arc::new(t.store.clone()),
        settings,
        Config::lockstep_default().unwrap(),
        Arc::new(broker),
        clock.clone(),
    )
    .unwrap();
    let plan = cycle_on(&live, &clock, panel.day(n - 2), 0).await;
    Rig {
        t,
        live: Arc::new(live),
        mock,
        plan,
    }
}

impl Rig {
    /// How many times each client order id reached the venue, the most of any.
    fn most_sends_of_one_cloid(&self) -> usize {
        let orders = self.mock.orders();
        orders
            .iter()
            .map(|o| orders.iter().filter(|x| x.cloid == o.cloid).count())
            .max()
            .unwrap_or(0)
    }

    async fn status_of(&self, symbol: &str) -> String {
        let p = self.live.plan(&self.plan).await.unwrap();
        p.orders
            .iter()
            .find(|o| o.symbol == symbol)
            .unwrap()
            .status
            .to_string()
    }
}

/// The fault case: approve with `fault` armed for the first order, see it end `unknown` with
/// the plan `executing`, bring the venue back, Reconcile: `done`, every order once.
async fn unknown_then_reconciled(tag: &str, arm: impl FnOnce(&Mock)) -> Rig {
    let r = rig(tag, Duration::from_millis(20)).await;
    let plan = r.live.plan(&r.plan).await.unwrap();
    let lines = order_lines(&plan);
    assert!(lines.len() >= 3, "{:?}", plan.lines);
    arm(&r.mock);

    let err = r
        .live
        .approve(&r.plan, "alice")
        .await
        .expect_err("the venue's answer is lost: the plan cannot close yet");
    let after = r.live.plan(&r.plan).await.unwrap();
    assert_eq!(after.summary.status, "executing", "{err}");
    let unknown: Vec<&str> = after
        .orders
        .iter()
        .filter(|o| o.status == "unknown")
        .map(|o| o.symbol.as_str())
        .collect();
    assert!(!unknown.is_empty(), "{err}: {:?}", after.orders);
    assert!(
        after.orders.iter().all(|o| o.status != "rejected"),
        "nothing the venue may have filled is recorded rejected: {:?}",
        after.orders
    );
    assert!(r.most_sends_of_one_cloid() <= 1, "{:?}", r.mock.orders());
    eprintln!("{tag}: after the fault: {err}; unknown: {unknown:?}");

    // The venue answers again; a trader presses Reconcile.
    r.mock.with(|s| s.info_down = false);
    let done = r.live.reconcile(&r.plan, "alice").await.unwrap();
    assert_eq!(done.summary.status, "done", "{:?}", done.note);
    let sent = r.mock.orders();
    let key = HyperliquidSigner::from_hex(SDK_TEST_KEY).unwrap().address();
    assert_sent_as_planned(&sent, &lines, key);
    let fills = live_fills(&r.t.store, &r.plan).await;
    assert_fills(&done.orders, &fills, &sent, |_| 1.0);
    r
}

#[tokio::test]
async fn a_timeout_after_the_order_landed_is_unknown_then_reconciled_by_cloid() {
    let r = unknown_then_reconciled("hl_fault_timeout", |m| {
        m.with(|s| {
            s.after_record
                .push_back(AfterRecord::Hang(Duration::from_secs(3)));
            s.venue_dark_after = true;
        })
    })
    .await;
    // One request for the first order: it landed; the resend found its nonce taken or was
    // never needed (the venue was asked by cloid first).
    assert!(r.mock.with(|s| s.exchange_posts) as usize >= r.mock.orders().len());
}

#[tokio::test]
async fn a_502_after_the_order_landed_is_unknown_then_reconciled_by_cloid() {
    unknown_then_reconciled("hl_fault_502", |m| {
        m.with(|s| {
            s.after_record.push_back(AfterRecord::Status(502));
            s.venue_dark_after = true;
        })
    })
    .await;
}

#[tokio::test]
async fn a_garbage_answer_after_the_send_is_unknown_then_reconciled_by_cloid() {
    unknown_then_reconciled("hl_fault_garbage", |m| {
        m.with(|s| {
            s.after_record.push_back(AfterRecord::Garbage);
            s.venue_dark_after = true;
        })
    })
    .await;
}

/// 429s on every attempt of the first order: the broker waits the `Retry-After` the venue asked
/// for before each resend (same signed request), then leaves the order `unknown`; the rest of
/// the batch goes out, the plan stays `executing`, and Reconcile — the venue does not know the
/// cloid — sends it once.
#[tokio::test]
async fn rate_limits_with_retry_after_are_waited_out_then_reconciled_by_cloid() {
    let r = unknown_then_reconciled("hl_fault_429", |m| {
        m.with(|s| {
            s.rate_limit = 3;
            s.retry_after_secs = 1;
        })
    })
    .await;
    let times = r.mock.with(|s| s.post_times.clone());
    for w in times.windows(2).take(2) {
        assert!(
            w[1] - w[0] >= Duration::from_secs(1),
            "resent after {:?}, before the venue's Retry-After",
            w[1] - w[0]
        );
    }
}

/// The first send fails before the venue took it (a 500); while the broker polls the venue by
/// cloid (it does not know the order), a trader turns the kill switch on. The broker does not
/// resend, the batch sends nothing more, the order stays `unknown` (not `rejected`) until
/// Reconcile finds the venue never had it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_between_two_status_polls_stops_further_orders() {
    let r = rig("hl_kill_polls", Duration::from_millis(300)).await;
    r.mock.with(|s| s.fail_before_record = 1);
    let job = tokio::spawn({
        let (live, id) = (r.live.clone(), r.plan.clone());
        async move { live.approve(&id, "alice").await }
    });
    // Wait for the failed post, then for the first status poll after it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while r.mock.with(|s| s.exchange_posts) == 0 {
        assert!(std::time::Instant::now() < deadline, "no order was sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let polls = r.mock.with(|s| s.status_queries);
    while r.mock.with(|s| s.status_queries) == polls {
        assert!(
            std::time::Instant::now() < deadline,
            "the broker never polled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r.live
        .set_kill_switch(true, "bob", Some("stop now"))
        .await
        .unwrap();
    let out = job.await.unwrap().unwrap();
    assert_eq!(
        r.mock.with(|s| s.exchange_posts),
        1,
        "no resend, no next order"
    );
    assert!(r.mock.orders().is_empty());
    assert_eq!(out.summary.status, "partially_failed");
    let note = out.note.clone().unwrap_or_default();
    assert!(note.starts_with("stopped: the kill switch"), "{note}");
    let unknown: Vec<_> = out
        .orders
        .iter()
        .filter(|o| o.status == "unknown")
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", out.orders);
    assert!(out.orders.iter().filter(|o| o.status != "unknown").all(
        |o| o.status == "rejected" && o.reason.as_deref().unwrap_or("").contains("kill switch")
    ));
    // Reconcile: the venue never had it (the 500 came before it was taken).
    let symbol = unknown[0].symbol.clone();
    let again = r.live.reconcile(&r.plan, "bob").await.unwrap();
    assert_eq!(again.summary.status, "partially_failed");
    assert_eq!(r.status_of(&symbol).await, "rejected");
    assert_eq!(r.mock.with(|s| s.exchange_posts), 1);
}
