//! Hyperliquid's wire formats: the signed order action (msgpack for the hash, JSON on the wire),
//! number strings, and the `/exchange` and `/info` response shapes the broker reads. The tick and
//! lot rules and the rounding onto them live in `shared::venue` (one copy for the plan, the
//! broker and the backtest); orders arrive here as exact decimals already on the grid.
//!
//! Sources (see `docs/external-apis.md` §1.3–1.5): python-sdk `hyperliquid/utils/signing.py`
//! (`order_request_to_order_wire`, `float_to_wire`), rust-sdk `src/exchange/actions.rs`, the
//! official pages `exchange-endpoint.md`, `info-endpoint.md`, `info-endpoint/perpetuals.md` and
//! `tick-and-lot-size.md`.

use serde::{Deserialize, Serialize};

/// An L1 action the broker signs. `type` comes first, then the fields in declaration order:
/// the msgpack map's key order is part of the signed hash, so the order here is the SDK's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    /// `{"type":"order","orders":[…],"grouping":"na"}`.
    Order(BulkOrder),
}

/// The body of an `order` action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkOrder {
    pub orders: Vec<OrderWire>,
    /// `"na"` for plain orders.
    pub grouping: String,
}

/// One order on the wire. Keys: a=asset, b=isBuy, p=price, s=size, r=reduceOnly, t=type,
/// c=cloid (omitted entirely when absent: an explicit null would hash differently).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderWire {
    pub a: u32,
    pub b: bool,
    pub p: String,
    pub s: String,
    pub r: bool,
    pub t: OrderTypeWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
}

/// `{"limit":{"tif":…}}` or `{"trigger":{…}}`: exactly one is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderTypeWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerWire>,
}

impl OrderTypeWire {
    /// Immediate-or-cancel limit: the unfilled rest is cancelled, nothing rests on the book.
    pub fn ioc() -> Self {
        Self::limit("Ioc")
    }

    /// A limit order with time-in-force `tif` (`"Alo"`, `"Ioc"` or `"Gtc"`).
    pub fn limit(tif: &str) -> Self {
        Self {
            limit: Some(LimitWire {
                tif: tif.to_string(),
            }),
            trigger: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitWire {
    pub tif: String,
}

/// Trigger (TP/SL) orders; field order `isMarket, triggerPx, tpsl` as in the SDK. The broker does
/// not place them; they exist so the SDK's published trigger vector can be reproduced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerWire {
    pub is_market: bool,
    pub trigger_px: String,
    pub tpsl: String,
}

/// The signature as `/exchange` takes it: 0x-prefixed hex `r`, `s` and `v` = 27 | 28.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSignature {
    pub r: String,
    pub s: String,
    pub v: u8,
}

/// The `/exchange` request body (python-sdk `Exchange._post_action`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRequest<A> {
    pub action: A,
    pub nonce: u64,
    pub signature: WireSignature,
    /// Sub-account or vault traded on behalf of (lower-case hex), `null` otherwise.
    pub vault_address: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// Numbers

/// Decimal string without trailing zeros (and without a trailing `.`), `-0` → `0`: the form the
/// SDKs hash (`float_to_wire`: `Decimal(f"{x:.8f}").normalize()`). `decimals` ≤ 8.
pub fn decimal_string(x: f64, decimals: u32) -> String {
    let mut s = format!("{:.*}", decimals.min(8) as usize, x);
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// The SDK's `float_to_wire`: 8 decimals at most, trailing zeros stripped. `None` when that
/// would change the number (the SDK raises an error there).
pub fn float_to_wire(x: f64) -> Option<String> {
    let s = decimal_string(x, 8);
    let back: f64 = s.parse().ok()?;
    ((back - x).abs() < 1e-12).then_some(s)
}

/// A number the venue sent as a string (`"28429.3"`); a few old samples carry `"NaN"`.
pub fn parse_num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `0x` + 32 hex digits (python-sdk `types.py` `Cloid`).
pub fn is_cloid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

// ------------------------------------------------------------------------------------------------
// /info responses (parsed leniently: unknown fields ignored, newer optional fields tolerated)

/// `meta`: the perp universe; an asset's index is its position, delisted entries included.
#[derive(Clone, Debug, Deserialize)]
pub struct Meta {
    pub universe: Vec<AssetMeta>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetMeta {
    pub name: String,
    pub sz_decimals: u32,
    #[serde(default)]
    pub is_delisted: bool,
}

/// One element of `metaAndAssetCtxs[1]`; only the prices are read.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetCtx {
    #[serde(default)]
    pub mark_px: Option<String>,
    #[serde(default)]
    pub mid_px: Option<String>,
}

/// `clearinghouseState`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearinghouseState {
    pub margin_summary: MarginSummary,
    #[serde(default)]
    pub asset_positions: Vec<AssetPosition>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarginSummary {
    pub account_value: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AssetPosition {
    pub position: PositionWire,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionWire {
    pub coin: String,
    /// Signed size: negative = short.
    pub szi: String,
    /// `|szi| × markPx`.
    pub position_value: String,
}

/// `orderStatus`: `{"status":"order","order":{…}}` or `{"status":"unknownOid"}`.
#[derive(Clone, Debug, Deserialize)]
pub struct OrderStatusResponse {
    pub status: String,
    #[serde(default)]
    pub order: Option<OrderStatusEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatusEntry {
    pub order: OrderInfo,
    /// `open`, `filled`, `canceled`, `rejected`, `…Canceled`, `…Rejected`, `scheduledCancel`…
    pub status: String,
    #[serde(default)]
    pub status_timestamp: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInfo {
    pub coin: String,
    /// `"B"` bid/buy, `"A"` ask/sell.
    pub side: String,
    pub limit_px: String,
    /// Size still open.
    pub sz: String,
    pub oid: u64,
    pub timestamp: u64,
    #[serde(default)]
    pub orig_sz: Option<String>,
    #[serde(default)]
    pub cloid: Option<String>,
}

/// One fill of `userFills` / `userFillsByTime`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    pub coin: String,
    pub px: String,
    pub sz: String,
    pub side: String,
    pub time: u64,
    pub oid: u64,
    #[serde(default)]
    pub fee: Option<String>,
    #[serde(default)]
    pub fee_token: Option<String>,
    #[serde(default)]
    pub cloid: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// /exchange responses

/// `{"status":"ok","response":{"type":"order","data":{"statuses":[…]}}}` or
/// `{"status":"err","response":"<message>"}`.
#[derive(Clone, Debug, Deserialize)]
pub struct ExchangeResponse {
    pub status: String,
    pub response: serde_json::Value,
}

/// One entry of `statuses`.
#[derive(Clone, Debug, PartialEq)]
pub enum PlaceStatus {
    Filled {
        total_sz: f64,
        avg_px: f64,
        oid: u64,
    },
    Resting {
        oid: u64,
    },
    Error(String),
    /// `"success"`, `"waitingForFill"`, … (not expected for orders).
    Other(String),
}

impl ExchangeResponse {
    /// The per-order statuses of an `ok` response, or the message of an `err` one.
    ///
    /// # Errors
    /// `Err(message)` for a top-level `err` or a body that has no statuses.
    pub fn statuses(&self) -> Result<Vec<PlaceStatus>, String> {
        if self.status != "ok" {
            return Err(match &self.response {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        let statuses = self
            .response
            .pointer("/data/statuses")
            .and_then(|v| v.as_array())
            .ok_or_else(|| format!("response without statuses: {}", self.response))?;
        Ok(statuses.iter().map(parse_place_status).collect())
    }
}

fn parse_place_status(v: &serde_json::Value) -> PlaceStatus {
    if let Some(s) = v.as_str() {
        return PlaceStatus::Other(s.to_string());
    }
    if let Some(f) = v.get("filled") {
        let num = |k: &str| f.get(k).and_then(|x| x.as_str()).and_then(parse_num);
        if let (Some(total_sz), Some(avg_px), Some(oid)) = (
            num("totalSz"),
            num("avgPx"),
            f.get("oid").and_then(|x| x.as_u64()),
        ) {
            return PlaceStatus::Filled {
                total_sz,
                avg_px,
                oid,
            };
        }
    }
    if let Some(oid) = v.pointer("/resting/oid").and_then(|x| x.as_u64()) {
        return PlaceStatus::Resting { oid };
    }
    if let Some(e) = v.get("error").and_then(|x| x.as_str()) {
        return PlaceStatus::Error(e.to_string());
    }
    PlaceStatus::Error(format!("unrecognised order status: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_wire_matches_the_sdk_examples() {
        // python-sdk signing.py docstring examples and rust-sdk helpers.rs tests.
        assert_eq!(float_to_wire(100.0).unwrap(), "100");
        assert_eq!(float_to_wire(1670.1).unwrap(), "1670.1");
        assert_eq!(float_to_wire(0.0147).unwrap(), "0.0147");
        assert_eq!(float_to_wire(0.00076).unwrap(), "0.00076");
        assert_eq!(float_to_wire(987654321.0).unwrap(), "987654321");
        assert_eq!(float_to_wire(-0.0).unwrap(), "0");
        assert!(float_to_wire(0.000000001).is_none());
    }

    #[test]
    fn cloids_are_checked() {
        assert!(is_cloid("0x1234567890abcdef1234567890abcdef"));
        assert!(!is_cloid("0x1234"));
        assert!(!is_cloid("1234567890abcdef1234567890abcdef12"));
        assert!(is_cloid(&crate::broker::client_order_id("p", "BTC")));
    }

    #[test]
    fn exchange_statuses_parse() {
        let ok: ExchangeResponse = serde_json::from_str(
            r#"{"status":"ok","response":{"type":"order","data":{"statuses":[
                {"filled":{"totalSz":"0.02","avgPx":"1891.4","oid":77747314}},
                {"resting":{"oid":77738308}},
                {"error":"Order must have minimum value of $10."}]}}}"#,
        )
        .unwrap();
        assert_eq!(
            ok.statuses().unwrap(),
            vec![
                PlaceStatus::Filled {
                    total_sz: 0.02,
                    avg_px: 1891.4,
                    oid: 77747314
                },
                PlaceStatus::Resting { oid: 77738308 },
                PlaceStatus::Error("Order must have minimum value of $10.".into()),
            ]
        );
        let err: ExchangeResponse = serde_json::from_str(
            r#"{"status":"err","response":"User or API Wallet 0xab does not exist."}"#,
        )
        .unwrap();
        assert_eq!(
            err.statuses().unwrap_err(),
            "User or API Wallet 0xab does not exist."
        );
    }
}
