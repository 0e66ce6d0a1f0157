//! The venue listing history in the store (`store/listings.rs`), on SQLite and PostgreSQL:
//! what refreshes record, the back-fill of first days, delistings, the data version, and the
//! universe and funding notes a run on the venue gets.

use server::store::layout::VenueOrder;
use server::store::listings::ListingSeen;
use server::store::market::Record;
use server::store::testing::{Engine, TestStore};
use shared::config::VenueScope;
use shared::Day;

fn seen(coin: &str, delisted: bool) -> ListingSeen {
    let (symbol, unit) = server::market_data::symbols::symbol_of_coin(coin);
    ListingSeen {
        symbol,
        venue_symbol: coin.to_string(),
        size_decimals: Some(2),
        unit,
        max_leverage: Some(10),
        delisted,
    }
}

#[tokio::test]
async fn refreshes_keep_the_history_and_back_fill_first_days() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "data_listings").await else {
            continue;
        };
        let s = &t.store;
        assert!(s.venue_listings("hyperliquid").await.unwrap().is_none());
        let (l, info) = s.venue_universe(VenueScope::Hyperliquid).await.unwrap();
        assert!(l.is_none() && info.note.contains("no listing data for hyperliquid"));

        let v0 = s.data_version().await.unwrap();
        s.record_listings(
            "hyperliquid",
            Day(100),
            &[seen("BTC", false), seen("kPEPE", false), seen("OLD", true)],
        )
        .await
        .unwrap();
        let v1 = s.data_version().await.unwrap();
        assert!(v1 > v0, "new markets change runs: the data version moves");
        // The same view again, a day later: nothing a run sees changes.
        s.record_listings(
            "hyperliquid",
            Day(101),
            &[seen("BTC", false), seen("kPEPE", false), seen("OLD", true)],
        )
        .await
        .unwrap();
        assert_eq!(s.data_version().await.unwrap(), v1);
        let rows = s.listing_rows("hyperliquid").await.unwrap();
        let btc = rows.iter().find(|r| r.venue_symbol == "BTC").unwrap();
        assert_eq!(
            (btc.first_day, btc.last_day),
            (Some(Day(100)), Some(Day(101)))
        );
        let pepe = rows.iter().find(|r| r.venue_symbol == "kPEPE").unwrap();
        assert_eq!((pepe.symbol.as_str(), pepe.unit), ("PEPE", 1000.0));
        let old = rows.iter().find(|r| r.venue_symbol == "OLD").unwrap();
        assert_eq!(
            (old.first_day, old.last_day, old.delisted),
            (None, Some(Day(99)), true)
        );

        // Back-fill: the first candle moves the first day back (never forward).
        s.backfill_first_day("hyperliquid", "BTC", Some(Day(40)))
            .await
            .unwrap();
        s.backfill_first_day("hyperliquid", "OLD", Some(Day(10)))
            .await
            .unwrap();
        s.backfill_first_day("hyperliquid", "kPEPE", Some(Day(200)))
            .await
            .unwrap();
        assert!(s.data_version().await.unwrap() > v1);
        let l = s.venue_listings("hyperliquid").await.unwrap().unwrap();
        assert!(!l.is_tradable("BTC", Day(39)) && l.is_tradable("BTC", Day(40)));
        assert!(
            l.is_tradable("BTC", Day(5000)),
            "listed: open-ended after the last refresh"
        );
        assert!(
            l.is_tradable("PEPE", Day(100)),
            "a later first candle does not move it forward"
        );
        assert!(l.is_tradable("OLD", Day(10)) && l.is_tradable("OLD", Day(99)));
        assert!(
            !l.is_tradable("OLD", Day(100)),
            "delisted: tradable up to its last day only"
        );

        // BTC is delisted: its span closes at the last day it was seen listed.
        s.record_listings("hyperliquid", Day(150), &[seen("BTC", true)])
            .await
            .unwrap();
        let l = s.venue_listings("hyperliquid").await.unwrap().unwrap();
        assert!(l.is_tradable("BTC", Day(101)) && !l.is_tradable("BTC", Day(102)));
        // Nothing is dropped: markets a refresh no longer reports keep their rows.
        assert_eq!(s.listing_rows("hyperliquid").await.unwrap().len(), 3);

        let (l, info) = s.venue_universe(VenueScope::Hyperliquid).await.unwrap();
        assert!(
            l.is_some() && info.restricted && info.listed_symbols == 3,
            "{info:?}"
        );
        let (l, info) = s.venue_universe(VenueScope::Paper).await.unwrap();
        assert!(l.is_none() && info.note.starts_with("paper venue"));
    }
}

#[tokio::test]
async fn a_venue_run_takes_its_venues_funding_and_names_each_fallback() {
    for engine in Engine::ALL {
        let Some(t) = TestStore::new(engine, "data_funding_order").await else {
            continue;
        };
        let s = &t.store;
        let bar = |symbol: &str, day: i32| Record::Bar {
            symbol: symbol.into(),
            day: Day(day),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        let funding = |symbol: &str, venue: &str, day: i32, v: f64| Record::Funding {
            symbol: symbol.into(),
            venue: venue.into(),
            day: Day(day),
            daily_rate: v,
        };
        s.upsert(
            "test",
            &[
                bar("BTC", 10),
                bar("BTC", 11),
                bar("ETH", 10),
                bar("ETH", 11),
                funding("BTC", "binance", 10, 0.1),
                funding("BTC", "hyperliquid", 10, 0.3),
                funding("BTC", "binance", 11, 0.2),
                funding("ETH", "bybit", 10, 0.5),
                funding("ETH", "binance", 11, 0.6),
                funding("ETH", "hyperliquid", 11, 0.7),
            ],
        )
        .await
        .unwrap();
        let any = s.build_panel().await.unwrap().unwrap();
        let hl_order = VenueOrder::for_venue(Some("hyperliquid"));
        let hl = s.build_panel_for(&hl_order).await.unwrap().unwrap();
        let f = |p: &shared::Panel, a: usize, t: usize| p.get(shared::Field::FundingRate, a, t);
        // Default: Binance first, then by name.
        assert_eq!(
            (f(&any, 0, 0), f(&any, 0, 1), f(&any, 1, 0), f(&any, 1, 1)),
            (0.1, 0.2, 0.5, 0.6)
        );
        // Hyperliquid run: its rates first, then Binance, then the others.
        assert_eq!(
            (f(&hl, 0, 0), f(&hl, 0, 1), f(&hl, 1, 0), f(&hl, 1, 1)),
            (0.3, 0.2, 0.5, 0.7)
        );
        // The cached panels keep the two orders apart.
        let (_, cached) = s.panel_for(&hl_order).await.unwrap().unwrap();
        assert_eq!(f(&cached, 0, 0), 0.3);
        let (_, cached) = s.panel().await.unwrap().unwrap();
        assert_eq!(f(&cached, 0, 0), 0.1);
        // The as-of rebuild follows the same order.
        let v = s.data_version().await.unwrap();
        let as_of = s.build_panel_as_of_for(v - 1, &hl_order).await.unwrap();
        assert!(as_of.is_none(), "nothing stored before the one write");

        let notes: Vec<String> = s
            .funding_fallbacks(&hl_order)
            .await
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            notes,
            vec![
                "BTC: funding from binance on 1 day(s) between 1970-01-12 and 1970-01-12 (no hyperliquid rate)".to_string(),
                "ETH: funding from bybit on 1 day(s) between 1970-01-11 and 1970-01-11 (no hyperliquid rate)".to_string(),
            ]
        );
        assert!(s
            .funding_fallbacks(&VenueOrder::default())
            .await
            .unwrap()
            .is_empty());
        let (_, info) = s.venue_universe(VenueScope::Hyperliquid).await.unwrap();
        assert_eq!(info.funding_fallbacks, notes);
    }
}
