//! A stateful Hyperliquid venue on 127.0.0.1 for scenarios that run the real
//! [`HyperliquidBroker`](server::broker::hyperliquid::HyperliquidBroker) for weeks of simulated
//! days: an account with cash and positions that fills change, marks from a [`Panel`]'s closes,
//! a listing history (markets listed mid-period and delisted), taker fees by 14-day volume tier,
//! and hourly funding paid on held positions and served through `userFunding`.
//!
//! The shapes are the documented ones (`/work/shared/docs/external-apis.md`, the fixtures in
//! `tests/fixtures/hyperliquid_exchange/`). Time: the venue's day advances when the scenario
//! says ([`HlVenue::advance`]); funding rows are dated on that simulated day, fills on the
//! system clock (the broker looks fills up by its own clock).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use alloy_primitives::Address;
use axum::{extract::State, response::IntoResponse, routing::post, Json, Router};
use serde_json::{json, Value};
use server::broker::hyperliquid::wire::Action;

use crate::exchange::{
    check_signed, fills_since, funding_between, order_status, parse_exchange, Recorded,
};
use shared::{Day, Field, Panel};

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// One market of the venue's universe (its index is its position, delisted ones included).
#[derive(Clone, Debug)]
pub struct Market {
    pub coin: String,
    pub sz_decimals: u32,
    pub max_leverage: u32,
    /// First venue day it is listed.
    pub listed: Day,
    /// First venue day it is delisted (its positions are settled at the mark then).
    pub delisted: Option<Day>,
}

/// A taker fee tier: from this 14-day traded notional on, this many bps.
#[derive(Clone, Copy, Debug)]
pub struct FeeTier {
    pub min_volume_14d: f64,
    pub taker_bps: f64,
}

/// A position settled by a delisting.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlement {
    pub coin: String,
    pub szi: f64,
    pub price: f64,
    pub day: Day,
}

pub struct VenueState {
    signer: Address,
    user: String,
    panel: Arc<Panel>,
    /// The venue's UTC day: which markets are listed.
    pub venue_day: Day,
    /// The panel row whose closes are the marks.
    mark_row: usize,
    pub markets: Vec<Market>,
    pub tiers: Vec<FeeTier>,
    pub cash: f64,
    /// Coin → signed size.
    pub positions: BTreeMap<String, f64>,
    /// Traded notional per venue day (the fee tier's volume).
    pub volume: BTreeMap<Day, f64>,
    pub orders: Vec<Recorded>,
    pub fills: Vec<Value>,
    pub funding: Vec<Value>,
    pub settlements: Vec<Settlement>,
    /// Fill only this fraction of the next order in this coin (IOC: the rest is canceled).
    pub partial: Option<(String, f64)>,
    nonces: HashSet<u64>,
    next_oid: u64,
}

impl VenueState {
    fn market(&self, coin: &str) -> Option<&Market> {
        self.markets.iter().find(|m| m.coin == coin)
    }

    /// The markets `meta` lists on the venue's day, in universe order.
    fn listed(&self) -> Vec<&Market> {
        self.markets
            .iter()
            .filter(|m| m.listed <= self.venue_day)
            .collect()
    }

    fn is_delisted(&self, m: &Market) -> bool {
        m.delisted.is_some_and(|d| d <= self.venue_day)
    }

    /// The last finite close of `coin` up to the mark row.
    pub fn mark(&self, coin: &str) -> Option<f64> {
        let a = self.panel.asset_index(coin)?;
        (0..=self.mark_row)
            .rev()
            .map(|t| self.panel.get(Field::Close, a, t))
            .find(|c| c.is_finite() && *c > 0.0)
    }

    /// Cash plus positions at the marks.
    pub fn account_value(&self) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .map(|(c, u)| u * self.mark(c).unwrap_or(0.0))
                .sum::<f64>()
    }

    /// The taker fee (bps) of the tier the last 14 venue days' volume reaches (today excluded).
    pub fn taker_bps(&self) -> f64 {
        let from = Day(self.venue_day.0 - 14);
        let vol: f64 = self
            .volume
            .range(from..self.venue_day)
            .map(|(_, v)| v)
            .sum();
        self.tiers
            .iter()
            .rev()
            .find(|t| vol >= t.min_volume_14d)
            .map_or(4.5, |t| t.taker_bps)
    }

    /// The hourly funding rate of `coin` at `hour` of `day`: the panel's daily rate spread
    /// over the day with an intraday swing (HL's 0.01 %/8 h baseline where the panel has none).
    pub fn hourly_rate(&self, coin: &str, day: Day, hour: i64) -> f64 {
        let daily = self
            .panel
            .asset_index(coin)
            .zip(self.panel.row_of(day))
            .map(|(a, t)| self.panel.get(Field::FundingRate, a, t))
            .filter(|r| r.is_finite())
            .unwrap_or(0.0003);
        let phase = coin.bytes().map(u64::from).sum::<u64>() as f64;
        let swing = 1.0 + 0.5 * ((hour as f64 + phase) * std::f64::consts::TAU / 24.0).cos();
        daily / 24.0 * swing + 2e-7 * ((hour % 5) as f64 - 2.0)
    }
}

type Shared = Arc<Mutex<VenueState>>;

/// The running venue.
pub struct HlVenue {
    pub url: String,
    state: Shared,
}

impl HlVenue {
    /// Starts the venue for account `user` (orders must be signed by `signer`), with `cash`,
    /// no positions, `markets`, fee `tiers`, and marks from `panel`'s row `mark_row`.
    pub async fn start(
        signer: Address,
        user: Address,
        panel: Arc<Panel>,
        markets: Vec<Market>,
        tiers: Vec<FeeTier>,
        cash: f64,
        venue_day: Day,
    ) -> HlVenue {
        let mark_row = panel.row_of(Day(venue_day.0 - 1)).unwrap_or(0);
        let state: Shared = Arc::new(Mutex::new(VenueState {
            signer,
            user: format!("0x{}", alloy_primitives::hex::encode(user)),
            panel,
            venue_day,
            mark_row,
            markets,
            tiers,
            cash,
            positions: BTreeMap::new(),
            volume: BTreeMap::new(),
            orders: Vec::new(),
            fills: Vec::new(),
            funding: Vec::new(),
            settlements: Vec::new(),
            partial: None,
            nonces: HashSet::new(),
            next_oid: 91_000_000,
        }));
        let app = Router::new()
            .route("/info", post(info))
            .route("/exchange", post(exchange))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HlVenue { url, state }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut VenueState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// The venue lives through data day `day`: every hour of it pays funding on the positions
    /// held (at a price moving from the day's open to its close), then the marks become the
    /// day's closes and the venue's day the next one, where delisted markets' positions are
    /// settled at the mark. Returns the day's payments per coin (what the account paid).
    pub fn advance(&self, day: Day) -> BTreeMap<String, f64> {
        self.with(|s| {
            let row = s.panel.row_of(day).expect("a panel day");
            let mut paid = BTreeMap::new();
            let held: Vec<(String, f64)> = s
                .positions
                .iter()
                .filter(|(_, u)| **u != 0.0)
                .map(|(c, u)| (c.clone(), *u))
                .collect();
            // The day's price path of each held coin: from its open to its close.
            let path: Vec<(String, f64, f64, f64)> = held
                .iter()
                .map(|(coin, szi)| {
                    let a = s.panel.asset_index(coin).unwrap();
                    let close = s.panel.get(Field::Close, a, row);
                    let open = s.panel.get(Field::Open, a, row);
                    let prev = s.mark(coin).unwrap();
                    match (open.is_finite(), close.is_finite()) {
                        (true, true) => (coin.clone(), *szi, open, close),
                        _ => (coin.clone(), *szi, prev, prev),
                    }
                })
                .collect();
            // Hour by hour (the rows' time order, which `userFunding` pages follow).
            for h in 0..24 {
                for (coin, szi, open, close) in &path {
                    let (coin, szi) = (coin.clone(), *szi);
                    let px = open + (close - open) * (h + 1) as f64 / 24.0;
                    let rate = s.hourly_rate(&coin, day, h);
                    // The venue's sign: negative = the account paid; 6 decimals like the venue.
                    let usdc = (-szi * px * rate * 1e6).round() / 1e6;
                    s.cash += usdc;
                    *paid.entry(coin.clone()).or_insert(0.0) -= usdc;
                    s.funding.push(json!({
                        "time": day.0 as i64 * DAY_MS + h * HOUR_MS + 11,
                        "hash": "0x0000000000000000000000000000000000000000000000000000000000000000",
                        "delta": {"type": "funding", "coin": coin, "usdc": format!("{usdc}"),
                                  "szi": format!("{szi}"), "fundingRate": format!("{rate}")}
                    }));
                }
            }
            s.mark_row = row;
            s.venue_day = Day(day.0 + 1);
            let gone: Vec<String> = s
                .markets
                .iter()
                .filter(|m| s.is_delisted(m))
                .map(|m| m.coin.clone())
                .collect();
            for coin in gone {
                if let Some(szi) = s.positions.remove(&coin) {
                    let price = s.mark(&coin).unwrap();
                    s.cash += szi * price;
                    let day = s.venue_day;
                    s.settlements.push(Settlement {
                        coin,
                        szi,
                        price,
                        day,
                    });
                }
            }
            paid
        })
    }
}

fn lot(x: f64, decimals: u32) -> f64 {
    let k = 10f64.powi(decimals as i32);
    (x * k).round() / k
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn exchange(State(state): State<Shared>, body: String) -> axum::response::Response {
    let mut st = state.lock().unwrap();
    let req = match parse_exchange(&body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let expected = st.signer;
    if let Err(refused) = check_signed(&req, expected, &mut st.nonces) {
        return refused;
    }
    let Action::Order(bulk) = req.action;
    let mut statuses = Vec::new();
    for o in bulk.orders {
        let listed: Vec<Market> = st.listed().into_iter().cloned().collect();
        let Some(m) = listed.get(o.a as usize).cloned() else {
            statuses.push(json!({"error": "Asset index out of range"}));
            continue;
        };
        if st.is_delisted(&m) {
            statuses.push(json!({"error": "Trading is halted for this asset."}));
            continue;
        }
        let size: f64 = o.s.parse().unwrap();
        let limit: f64 = o.p.parse().unwrap();
        let mark = st.mark(&m.coin).unwrap();
        st.next_oid += 1;
        let oid = st.next_oid;
        let time = now_ms();
        // IOC at the mark when the limit allows it.
        let crosses = if o.b { limit >= mark } else { limit <= mark };
        let frac = match &st.partial {
            Some((c, f)) if *c == m.coin => *f,
            _ => 1.0,
        };
        if frac < 1.0 {
            st.partial = None;
        }
        let filled = if crosses {
            lot(size * frac, m.sz_decimals)
        } else {
            0.0
        };
        let status = if filled >= size { "filled" } else { "canceled" };
        if filled > 0.0 {
            let notional = filled * mark;
            let fee = (notional * st.taker_bps() / 1e4 * 1e6).round() / 1e6;
            let signed = if o.b { filled } else { -filled };
            let start = st.positions.get(&m.coin).copied().unwrap_or(0.0);
            st.cash -= signed * mark + fee;
            let after = start + signed;
            if after.abs() < 1e-12 {
                st.positions.remove(&m.coin);
            } else {
                st.positions.insert(m.coin.clone(), after);
            }
            let vd = st.venue_day;
            *st.volume.entry(vd).or_insert(0.0) += notional;
            st.fills.push(json!({
                "closedPnl": "0.0", "coin": m.coin, "crossed": true,
                "dir": if o.b { "Open Long" } else { "Open Short" },
                "hash": "0xa166e3fa63c25663024b03f2e0da011a00307e4017465df020210d3d432e7cb8",
                "oid": oid, "px": format!("{mark}"), "side": if o.b { "B" } else { "A" },
                "startPosition": format!("{start}"), "sz": format!("{filled}"), "time": time,
                "fee": format!("{fee}"), "feeToken": "USDC", "tid": oid * 10, "cloid": o.c.clone(),
            }));
            statuses.push(json!({"filled": {"totalSz": format!("{filled}"), "avgPx": format!("{mark}"), "oid": oid}}));
        } else {
            statuses.push(
                json!({"error": "Order could not immediately match against any resting orders."}),
            );
        }
        st.orders.push(Recorded {
            signer: expected,
            cloid: o.c.clone(),
            coin: m.coin.clone(),
            is_buy: o.b,
            p: o.p.clone(),
            s: o.s.clone(),
            reduce_only: false,
            tif: "Ioc".into(),
            oid,
            filled,
            status,
            time,
        });
    }
    Json(json!({"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}))
        .into_response()
}

async fn info(State(state): State<Shared>, Json(req): Json<Value>) -> Json<Value> {
    let st = state.lock().unwrap();
    let ours = req["user"].as_str().map(str::to_lowercase) == Some(st.user.clone());
    Json(match req["type"].as_str().unwrap_or_default() {
        "metaAndAssetCtxs" | "meta" => {
            let listed = st.listed();
            let universe: Vec<Value> = listed
                .iter()
                .map(|m| {
                    let mut v = json!({"name": m.coin, "szDecimals": m.sz_decimals, "maxLeverage": m.max_leverage});
                    if st.is_delisted(m) {
                        v["isDelisted"] = json!(true);
                    }
                    v
                })
                .collect();
            let meta = json!({"universe": universe, "marginTables": [], "collateralToken": 0});
            if req["type"] == "meta" {
                meta
            } else {
                let ctxs: Vec<Value> = listed
                    .iter()
                    .map(|m| {
                        let px = st.mark(&m.coin).map(|p| format!("{p}"));
                        json!({"markPx": px, "midPx": px, "oraclePx": px, "funding": "0.0000125",
                               "openInterest": "1000.0", "dayNtlVlm": "1000000.0", "premium": null,
                               "prevDayPx": px, "impactPxs": null, "dayBaseVlm": "1.0"})
                    })
                    .collect();
                json!([meta, ctxs])
            }
        }
        "allMids" => Value::Object(
            st.listed()
                .iter()
                .filter_map(|m| Some((m.coin.clone(), json!(format!("{}", st.mark(&m.coin)?)))))
                .collect(),
        ),
        "clearinghouseState" => {
            let (positions, value) = if ours {
                let p: Vec<Value> = st
                    .positions
                    .iter()
                    .map(|(c, u)| {
                        let mark = st.mark(c).unwrap_or(0.0);
                        json!({"type": "oneWay", "position": {
                            "coin": c, "szi": format!("{u}"),
                            "positionValue": format!("{}", u.abs() * mark),
                            "entryPx": format!("{mark}"), "unrealizedPnl": "0.0",
                            "leverage": {"type": "cross", "value": 5},
                            "maxLeverage": st.market(c).map_or(3, |m| m.max_leverage),
                            "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"}}})
                    })
                    .collect();
                (p, st.account_value())
            } else {
                (Vec::new(), 0.0)
            };
            let summary = json!({"accountValue": format!("{value}"), "totalMarginUsed": "0.0",
                                 "totalNtlPos": "0.0", "totalRawUsd": format!("{value}")});
            json!({"assetPositions": positions, "crossMaintenanceMarginUsed": "0.0",
                   "crossMarginSummary": summary, "marginSummary": summary,
                   "time": now_ms(), "withdrawable": format!("{value}")})
        }
        "orderStatus" => order_status(&st.orders, &req, ours),
        "userFillsByTime" if ours => fills_since(&st.fills, &req),
        "userFunding" if ours => funding_between(&st.funding, &req),
        "userFillsByTime" | "userFunding" => json!([]),
        other => json!({"error": format!("mock venue: unexpected info request {other}")}),
    })
}
