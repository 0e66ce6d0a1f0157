//! Symbol aliases: `BTC/USD` (Coinbase), `BTCUSDT_PERP.A` (Coinalyze, Binance), `BTC` (CMC,
//! Hyperliquid) are one asset. The panel and the store use the bare base (`BTC`).

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

const QUOTES: [&str; 3] = ["USDT", "USDC", "USD"];

/// The bare base of any spelling Lockstep meets, upper-cased. `None` for an empty string.
///
/// `BTC/USD` → `BTC`, `BTC/USDC:USDC` → `BTC`, `BTCUSDT_PERP.A` → `BTC`, `DAI-USD.8` → `DAI`,
/// `FTM.H` → `FTM`, `btc` → `BTC`.
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
        ] {
            assert_eq!(base_of(input).as_deref(), Some(base), "{input}");
        }
        assert_eq!(base_of("  "), None);
    }

    #[test]
    fn venues_from_suffixes() {
        assert_eq!(venue_of("BTCUSDT_PERP.A"), Some("binance"));
        assert_eq!(venue_of("FTM.H"), Some("hyperliquid"));
        assert_eq!(venue_of("BTC/USD"), None);
    }
}
