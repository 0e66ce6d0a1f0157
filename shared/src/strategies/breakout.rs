//! `breakout`: Donchian-channel trend following, replayed inside the strategy's window.
//!
//! Per asset, day by day over the last `replay_days` days of the window, starting flat:
//! 1. exits first: a long exits when the close is below the minimum of the previous
//!    `exit_lookback` closes, a short when it is above their maximum;
//! 2. then entries, **only from flat** (including a position that exited in step 1): close
//!    above the maximum of the previous `entry_lookback` closes → long, below their minimum →
//!    short. So a position that exits can re-enter the other way the same day (a same-day
//!    flip), but an entry signal against an open position that did not exit is ignored: the
//!    position is held until its exit channel breaks.
//!
//! Why flat-only entries: the predecessor (`signals/calc_breakout_signals.py`, which its
//! `breakout` config drove) checked entries only while flat, and the issue pins "exits are
//! checked before entries and a same-day flip is allowed" — an order that only matters when
//! entries wait for a flat state (if entries overrode any position, the order of the two checks
//! would never change the result). Lockstep differs from the predecessor in two pinned ways:
//! channels are of closes (it used highs/lows), and the same-day flip (it re-entered a day later).
//!
//! All comparisons are strict, so a close equal to the channel edge is no signal. The state at
//! `t` is the target: longs and shorts are weighted by inverse volatility (or equally), each
//! side normalised to its allocation.
//!
//! Speed: a day whose close breaks *both* channels in the same direction (above the maximum of
//! the previous `max(entry, exit)` closes, or below their minimum) sets the state whatever it
//! was: a short exits and the entry goes long, a flat book goes long, a long stays long (and
//! the mirror image). [`replay`] walks back from `t` to the latest such day and replays forward
//! from there (from flat at the window's first full-channel day if there is none). Each channel
//! test stops at the first close that breaks it, a handful of comparisons on typical prices. No
//! allocation per asset.

use super::common::{window, CrossSection, Defaults};
use super::params::Params;
use super::{Activity, Input, Strategy};
use crate::error::ConfigError;
use crate::panel::Field;

/// Default number of days the position state machine is replayed before `t`.
pub const DEFAULT_REPLAY_DAYS: usize = 140;

/// The breakout strategy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Breakout {
    pub xs: CrossSection,
    pub rebalance_days: u32,
    /// Channel length for entries (default 50).
    pub entry_lookback: usize,
    /// Channel length for exits (default 70).
    pub exit_lookback: usize,
    /// Days replayed from a flat state, ending at `t` (default 140).
    pub replay_days: usize,
}

/// Position state of one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Flat,
    Long,
    Short,
}

impl Breakout {
    /// Reads `entry_lookback` (50), `exit_lookback` (70), `replay_days` (140),
    /// `rebalance_days` and the weighting keys (`weighting_method` default `risk_parity`,
    /// `volatility_window`, allocations, `limit`).
    ///
    /// # Errors
    /// Invalid values, with their JSON path.
    pub fn from_params(p: &mut Params<'_>) -> Result<Breakout, ConfigError> {
        let xs = CrossSection::weighting_from_params(p, Defaults::LONG_SHORT)?;
        Ok(Breakout {
            xs,
            rebalance_days: p.rebalance_days()?,
            entry_lookback: p.usize_min("entry_lookback", 50, 1)?,
            exit_lookback: p.usize_min("exit_lookback", 70, 1)?,
            replay_days: p.usize_min("replay_days", DEFAULT_REPLAY_DAYS, 1)?,
        })
    }

    /// Rows the replay reads: the channel of the first replayed day plus the replayed days.
    fn replay_window(&self) -> usize {
        self.entry_lookback.max(self.exit_lookback) + self.replay_days
    }
}

/// Replays the breakout state machine over `closes` (oldest first, all finite) and returns the
/// position after the last day. Days `w..closes.len()` are replayed from flat, with
/// `w = max(entry, exit)`, so every replayed day has full channels.
///
/// A day on which the close breaks the previous `w` closes' maximum (or minimum) leaves the
/// book long (short) whatever it held (see the module docs), so the state after the latest such
/// day is known without replaying what came before; only the days after it are replayed.
pub fn replay(closes: &[f64], entry: usize, exit: usize) -> Position {
    let n = closes.len();
    let w = entry.max(exit);
    if n <= w {
        return Position::Flat;
    }
    // close[i] > max of the previous k closes (strict: a tie is no breakout).
    let above = |i: usize, k: usize| closes[i - k..i].iter().rev().all(|&c| c < closes[i]);
    let below = |i: usize, k: usize| closes[i - k..i].iter().rev().all(|&c| c > closes[i]);
    let (mut pos, mut from) = (Position::Flat, w);
    for i in (w..n).rev() {
        if above(i, w) {
            (pos, from) = (Position::Long, i + 1);
            break;
        }
        if below(i, w) {
            (pos, from) = (Position::Short, i + 1);
            break;
        }
    }
    for r in from..n {
        pos = match pos {
            Position::Long if below(r, exit) => Position::Flat,
            Position::Short if above(r, exit) => Position::Flat,
            p => p,
        };
        if pos == Position::Flat {
            if above(r, entry) {
                pos = Position::Long;
            } else if below(r, entry) {
                pos = Position::Short;
            }
        }
    }
    pos
}

impl Strategy for Breakout {
    fn name(&self) -> &'static str {
        "breakout"
    }

    fn lookback(&self) -> usize {
        self.replay_window().max(self.xs.lookback())
    }

    fn rebalance_days(&self) -> u32 {
        self.rebalance_days
    }

    fn compute(&self, input: &Input<'_>, t: usize, out: &mut [f64]) -> Activity {
        let panel = input.panel;
        let len = self.replay_window();
        let cands = self.xs.eligible(input, t, |a| {
            let closes = window(panel.series(Field::Close, a), t, len)?;
            if closes.iter().any(|c| *c <= 0.0) {
                return None;
            }
            Some(
                match replay(closes, self.entry_lookback, self.exit_lookback) {
                    Position::Long => 1.0,
                    Position::Short => -1.0,
                    Position::Flat => 0.0,
                },
            )
        });
        self.xs
            .write_signed(&cands, "no open breakout position", out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::Day;
    use crate::panel::Panel;
    use crate::strategies::testutil::{build, run_at};
    use proptest::prelude::{prop_assert_eq, proptest, ProptestConfig};

    /// The obvious day-by-day forward replay, to check the backward shortcut against.
    fn replay_naive(c: &[f64], entry: usize, exit: usize) -> Position {
        let w = entry.max(exit);
        let mut pos = Position::Flat;
        for i in w..c.len() {
            let max = |k: usize| c[i - k..i].iter().cloned().fold(f64::MIN, f64::max);
            let min = |k: usize| c[i - k..i].iter().cloned().fold(f64::MAX, f64::min);
            if pos == Position::Long && c[i] < min(exit) {
                pos = Position::Flat;
            }
            if pos == Position::Short && c[i] > max(exit) {
                pos = Position::Flat;
            }
            if pos == Position::Flat {
                if c[i] > max(entry) {
                    pos = Position::Long;
                } else if c[i] < min(entry) {
                    pos = Position::Short;
                }
            }
        }
        pos
    }

    fn pos(c: &[f64], entry: usize, exit: usize) -> Position {
        replay(c, entry, exit)
    }

    #[test]
    fn replay_by_hand() {
        // entry 2, exit 3: days 3.. are replayed.
        // day 3: 4 > max(2, 3) -> long.
        assert_eq!(pos(&[1.0, 2.0, 3.0, 4.0], 2, 3), Position::Long);
        // day 4: 3.5 is not below min(2, 3, 4) of the exit channel: still long.
        assert_eq!(pos(&[1.0, 2.0, 3.0, 4.0, 3.5], 2, 3), Position::Long);
        // day 5: 1.9 < min(3, 4, 3.5) exits, and < min(4, 3.5) of the entry channel -> short
        // the same day (flip).
        assert_eq!(pos(&[1.0, 2.0, 3.0, 4.0, 3.5, 1.9], 2, 3), Position::Short);
        // A close equal to the channel's max is no breakout: flat throughout.
        assert_eq!(pos(&[1.0, 3.0, 2.0, 3.0], 2, 3), Position::Flat);
        // Too short to replay anything.
        assert_eq!(pos(&[1.0, 2.0, 3.0], 2, 3), Position::Flat);
    }

    #[test]
    fn entry_against_an_open_position_is_ignored_until_it_exits() {
        // Short after day 3 (1 < min(9, 5, 4)); day 4: 4.5 > max(4, 1) of the 2-day entry
        // channel but not > max(5, 4, 1) of the 3-day exit channel: no exit, so no entry either
        // (entries only from flat): still short.
        let c = [9.0, 5.0, 4.0, 1.0, 4.5];
        assert_eq!(pos(&c[..4], 2, 3), Position::Short);
        assert_eq!(pos(&c, 2, 3), Position::Short);
        assert_eq!(replay_naive(&c, 2, 3), Position::Short);
        // Day 5: 6 > max(4, 1, 4.5) exits the short, and > max(1, 4.5) enters long (flip).
        let c = [9.0, 5.0, 4.0, 1.0, 4.5, 6.0];
        assert_eq!(pos(&c, 2, 3), Position::Long);
        // Exit without re-entry: entry channel 3, exit channel 1. Long after day 3; day 4's 3.5
        // < 4 exits, but is not below min(2, 3, 4): flat.
        let c = [1.0, 2.0, 3.0, 4.0, 3.5];
        assert_eq!(pos(&c[..4], 3, 1), Position::Long);
        assert_eq!(pos(&c, 3, 1), Position::Flat);
        assert_eq!(replay_naive(&c, 3, 1), Position::Flat);
    }

    proptest! {
        #[test]
        fn backward_replay_equals_forward_replay(
            steps in proptest::collection::vec(-3i32..4, 5..120),
            entry in 1usize..12,
            exit in 1usize..12,
        ) {
            // Small integer steps make ties at the channel edges common.
            let mut c = vec![100.0];
            for s in steps {
                c.push(c.last().unwrap() + s as f64);
            }
            prop_assert_eq!(pos(&c, entry, exit), replay_naive(&c, entry, exit));
        }
    }

    #[test]
    fn weights_tiny_panel_by_hand() {
        // entry 2, exit 2, replay 3, equal weight: lookback 5.
        let s = build(
            "breakout",
            r#"{"entry_lookback": 2, "exit_lookback": 2, "replay_days": 3,
                "weighting_method": "equal_weight"}"#,
        );
        assert_eq!(s.lookback(), 5);
        let out = run_at(&*s, &["A", "B", "C", "D"], 5, |p| {
            let rows: [[f64; 5]; 4] = [
                [1.0, 2.0, 3.0, 4.0, 5.0], // new highs: long
                [5.0, 4.0, 3.0, 2.0, 1.0], // new lows: short
                [1.0, 2.0, 3.0, 2.5, 2.6], // long on day 2, never exits
                [2.0, 2.0, 2.0, 2.0, 2.0], // never breaks out
            ];
            for (a, r) in rows.iter().enumerate() {
                p.series_mut(Field::Close, a).copy_from_slice(r);
            }
        });
        // C: day 2: 3 > max(1, 2) long; day 3: 2.5 not < min(2, 3); day 4: 2.6 not < min(3, 2.5)
        // -> still long. Longs A, C share 0.5; short B gets -0.5; D flat.
        assert_eq!(out, vec![0.25, -0.5, 0.25, 0.0]);
    }

    #[test]
    fn inverse_vol_weights_and_missing_rows() {
        // Risk parity over 2 log returns; both assets break out upwards.
        let s = build(
            "breakout",
            r#"{"entry_lookback": 1, "exit_lookback": 1, "replay_days": 2, "volatility_window": 2}"#,
        );
        assert_eq!(s.lookback(), 3);
        let out = run_at(&*s, &["A", "B", "C"], 4, |p| {
            // Returns A: e^0.1, e^0.3 (std of log returns = 0.1414..), B: e^0.1, e^0.5 (0.2828..).
            let a = [1.0, 1.0, crate::math::exp(0.1), crate::math::exp(0.4)];
            let b = [1.0, 1.0, crate::math::exp(0.1), crate::math::exp(0.6)];
            p.series_mut(Field::Close, 0).copy_from_slice(&a);
            p.series_mut(Field::Close, 1).copy_from_slice(&b);
            // C has a hole inside the window: ineligible.
            p.series_mut(Field::Close, 2)
                .copy_from_slice(&[1.0, 2.0, f64::NAN, 3.0]);
        });
        // Inverse vol: 1/σ_A : 1/σ_B = 2 : 1, longs sum to 0.5 -> A 1/3, B 1/6.
        assert!((out[0] - 0.5 * 2.0 / 3.0).abs() < 1e-12, "{out:?}");
        assert!((out[1] - 0.5 / 3.0).abs() < 1e-12, "{out:?}");
        assert_eq!(out[2], 0.0);
    }

    /// A seeded random panel: `n_assets` random walks with occasional listings late in the
    /// panel and holes, USD-ish volumes and market caps. For parity and look-ahead tests.
    pub(crate) fn random_panel(seed: u64, n_days: usize, n_assets: usize) -> Panel {
        let mut state = seed
            .wrapping_mul(2862933555777941757)
            .wrapping_add(3037000493);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / 9007199254740992.0
        };
        let symbols = (0..n_assets).map(|i| format!("S{i:02}")).collect();
        let mut p = Panel::new(Day(18_000), n_days, symbols).unwrap();
        for a in 0..n_assets {
            let listed = if next() < 0.3 {
                (next() * n_days as f64 * 0.6) as usize
            } else {
                0
            };
            let hole = if next() < 0.2 {
                Some((next() * n_days as f64) as usize)
            } else {
                None
            };
            let vol = 0.01 + 0.06 * next();
            let drift = (next() - 0.5) * 0.004;
            let mut price = 1.0 + 100.0 * next();
            for r in 0..n_days {
                let e = (next() + next() + next() - 1.5) * 2.0 * vol;
                price *= crate::math::exp(drift + e);
                if r < listed || hole == Some(r) {
                    continue;
                }
                p.set(Field::Close, a, r, price);
                p.set(Field::Volume, a, r, 1e6 * (0.2 + next()) / price);
                p.set(Field::MarketCap, a, r, price * 1e7 * (1.0 + a as f64));
            }
        }
        p
    }

    /// Asserts that `compute` on the window `(t - lookback, t]` equals `compute` on the full
    /// panel at `t`, bit for bit (the parity contract).
    pub(crate) fn assert_window_parity(s: &dyn Strategy, p: &Panel, t: usize) {
        let lb = s.lookback();
        assert!(t + 1 >= lb, "t = {t} is before the first full window");
        let excluded = vec![false; p.n_assets()];
        let mut full = vec![0.0; p.n_assets()];
        let a1 = s.compute(
            &Input {
                panel: p,
                excluded: &excluded,
                tradable: None,
            },
            t,
            &mut full,
        );
        let w = p.window(t + 1 - lb, t).unwrap();
        let mut win = vec![0.0; p.n_assets()];
        let a2 = s.compute(
            &Input {
                panel: &w,
                excluded: &excluded,
                tradable: None,
            },
            lb - 1,
            &mut win,
        );
        assert_eq!(a1, a2, "activity differs at t = {t}");
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&full), bits(&win), "weights differ at t = {t}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn window_parity(seed in 0u64..10_000, extra in 0usize..60) {
            let p = random_panel(seed, 260, 12);
            let s = build(
                "breakout",
                r#"{"entry_lookback": 20, "exit_lookback": 30, "replay_days": 40}"#,
            );
            let t = s.lookback() - 1 + extra;
            assert_window_parity(&*s, &p, t);
            let d = build("breakout", "{}");
            assert_window_parity(&*d, &p, 259);
        }
    }
}
