//! Symbol aliases: `BTC/USD` (Coinbase), `BTCUSDT_PERP.A` (Coinalyze, Binance), `BTC` (CMC,
//! Hyperliquid) are one asset. The panel and the store use the bare base (`BTC`).
//!
//! Hyperliquid's thousand-unit contracts (`kPEPE` = 1000 PEPE, priced per 1000) are the asset
//! too: [`symbol_of_coin`] is the one mapping, used by the market-data client (series stored as
//! `PEPE` per unit) and by the broker (orders sent in contracts), so data and trades agree.

/// Coinalyze's exchange codes (the suffix after the dot), as far as Lockstep knows them.
pub fn coinalyze_venue(code: &str) -> Option<&'static str> {
    Some(match code {
        "A" => "binance",
        "6" => "bybit",
        "3" => "okx",
        "0" => "bitmex",
        "2" => "deribit",
        "4" => "huobi",
        "7" => "phemex",
        "8" => "dydx",
        "H" => "hyperliquid",
        "C" => "coinbase",
        "F" => "bitfinex",
        "K" => "kraken",
        "Y" => "gateio",
        "W" => "woox",
        "V" => "vertex",
        _ => return None,
    })
}

/// Units of the asset in one Hyperliquid `k` contract (`kPEPE` = 1000 PEPE).
pub const K_CONTRACT_UNITS: f64 = 1000.0;

/// The Lockstep symbol a Hyperliquid coin trades, and how many of that symbol's units one unit
/// of the coin is: `kPEPE` → (`PEPE`, 1000); every other coin is itself, 1 for 1.
///
/// A `k` contract is a lower-case `k` followed by an upper-case ticker (`kPEPE`, `kSHIB`,
/// `kBONK`, `kFLOKI`, `kLUNC`, `kNEIRO`, `kDOGS`); a ticker that merely starts with K (`KAS`)
/// is not one. Prices of the coin are per `unit` of the symbol (divide by it), sizes and base
/// volumes count coins (multiply by it).
pub fn symbol_of_coin(coin: &str) -> (String, f64) {
    match coin.strip_prefix('k') {
        Some(rest)
            if rest.starts_with(|c: char| c.is_ascii_uppercase())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            (rest.to_string(), K_CONTRACT_UNITS)
        }
        _ => (coin.to_string(), 1.0),
    }
}

const QUOTES: [&str; 3] = ["USDT", "USDC", "USD"];

/// The bare base of any spelling Lockstep meets, upper-cased. `None` for an empty string.
///
/// `BTC/USD` → `BTC`, `BTC/USDC:USDC` → `BTC`, `BTCUSDT_PERP.A` → `BTC`, `DAI-USD.8` → `DAI`,
/// `FTM.H` → `FTM`, `GT_USDT.Y` → `GT` (Gate.io spells pairs `{BASE}_{QUOTE}`), `btc` → `BTC`.
pub fn base_of(symbol: &str) -> Option<String> {
    let s = symbol.trim();
    if s.is_empty() {
        return None;
    }
    // Pair notations carry the base before the separator.
    if let Some((base, _)) = s.split_once(['/', '-']) {
        return (!base.is_empty()).then(|| base.to_ascii_uppercase());
    }
    // Coinalyze: `{BASE}{QUOTE}_PERP.{code}` or `{BASE}{QUOTE}.{code}` or `{BASE}.{code}`.
    // Only those spellings carry a quote to strip: a plain `BUSD` or `PERP` is a base.
    let (core, coinalyze) = match s.rsplit_once('.') {
        Some((core, code)) if coinalyze_venue(code).is_some() => (core, true),
        _ => (s, false),
    };
    let (core, perp) = match core.strip_suffix("_PERP") {
        Some(c) => (c, true),
        None => (core, false),
    };
    let upper = core.to_ascii_uppercase();
    // Gate.io (Coinalyze code `Y`): `{BASE}_{QUOTE}`, e.g. `GT_USDT.Y`. The underscore is the
    // pair separator, so stripping the quote alone would leave `GT_`. Only a known quote after
    // the underscore makes it a pair: a bare `_` elsewhere stays part of the name.
    if let Some((base, quote)) = upper.split_once('_') {
        if !base.is_empty() && QUOTES.contains(&quote) {
            return Some(base.to_string());
        }
    }
    if coinalyze || perp {
        for q in QUOTES {
            if let Some(base) = upper.strip_suffix(q) {
                if !base.is_empty() {
                    return Some(base.to_string());
                }
            }
        }
    }
    Some(upper)
}

/// The venue named by a Coinalyze symbol's suffix (`BTCUSDT_PERP.A` → `binance`).
pub fn venue_of(symbol: &str) -> Option<&'static str> {
    symbol
        .rsplit_once('.')
        .and_then(|(_, code)| coinalyze_venue(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_maps_to_the_base() {
        for (input, base) in [
            ("BTC/USD", "BTC"),
            ("BTC/USDC:USDC", "BTC"),
            ("BTCUSDT_PERP.A", "BTC"),
            ("BTCUSD_PERP.A", "BTC"),
            ("ETHUSDT_PERP.6", "ETH"),
            ("AIOZUSDT.6", "AIOZ"),
            ("DAI-USD.8", "DAI"),
            ("FTM.H", "FTM"),
            ("SOMIUSDT_PERP.A", "SOMI"),
            ("btc", "BTC"),
            ("USDT", "USDT"),
            ("USDC", "USDC"),
            ("BUSD", "BUSD"),
            ("PERP", "PERP"),
            ("PERP/USD", "PERP"),
            // Gate.io's `{BASE}_{QUOTE}` pairs, as in the real funding file (`GT_USDT.Y`).
            ("GT_USDT.Y", "GT"),
            ("BTC_USDT.Y", "BTC"),
            ("BTC_USDT", "BTC"),
            ("gt_usdt", "GT"),
        ] {
            assert_eq!(base_of(input).as_deref(), Some(base), "{input}");
        }
        assert_eq!(base_of("  "), None);
    }

    #[test]
    fn k_contracts_are_the_asset_in_thousands() {
        assert_eq!(symbol_of_coin("kPEPE"), ("PEPE".to_string(), 1000.0));
        assert_eq!(symbol_of_coin("kNEIRO"), ("NEIRO".to_string(), 1000.0));
        // Tickers that only start with a k or K are themselves.
        assert_eq!(symbol_of_coin("KAS"), ("KAS".to_string(), 1.0));
        assert_eq!(symbol_of_coin("k"), ("k".to_string(), 1.0));
        assert_eq!(symbol_of_coin("kaspa"), ("kaspa".to_string(), 1.0));
        assert_eq!(symbol_of_coin("BTC"), ("BTC".to_string(), 1.0));
    }

    #[test]
    fn venues_from_suffixes() {
        assert_eq!(venue_of("BTCUSDT_PERP.A"), Some("binance"));
        assert_eq!(venue_of("FTM.H"), Some("hyperliquid"));
        assert_eq!(venue_of("GT_USDT.Y"), Some("gateio"));
        assert_eq!(venue_of("BTC/USD"), None);
    }
}
