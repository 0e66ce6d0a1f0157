//! A deterministic, seeded synthetic crypto market.
//!
//! The offline demo data and the fuel for property tests: a [`Panel`] with every field filled the
//! way the real one is (prices, volume in base units, market cap = close × circulating supply,
//! supply that steps up about monthly, daily funding as a fraction, open interest in USD), with
//! the awkward parts the strategies must survive: assets that list late and delist early, a
//! handful of stablecoins pinned near 1, fat-tailed returns, a common market factor with bull and
//! bear regimes (so regime filters switch), and funding that is very often exactly `0.0003`
//! (0.01 % per 8 hours × 3) so ranking ties are normal.
//!
//! # Determinism
//! The same [`SynthConfig`] gives the same panel bit for bit on every platform, native and
//! wasm32. The generator is a hand-written xoshiro256** seeded through splitmix64, and it uses
//! only IEEE-754 basic operations (`+ - × ÷ sqrt`, all correctly rounded everywhere) plus the
//! `libm` crate's `exp` and `ln` through [`crate::math`], which run the same Rust code on every
//! target. `std`'s `exp` and `ln` call the platform's libm, which is allowed to differ in the
//! last bit between glibc, macOS and the wasm32 port, so they are not used here.
//!
//! Each asset draws from its own stream (seeded from the seed and the asset's index), so the
//! first `k` assets of a panel do not change when `n_assets` grows, and the market factor has its
//! own stream so it does not depend on the asset count either.

use crate::calendar::Day;
use crate::math::{exp, ln};
use crate::panel::{Field, Panel, PanelError};

/// The stablecoins every synthetic panel carries, after `BTC`. Symbols match the usual default
/// stablecoin exclusion list.
pub const STABLECOINS: [&str; 3] = ["USDT", "USDC", "DAI"];

/// The reference asset: listed on every day of every synthetic panel.
pub const REFERENCE: &str = "BTC";

/// The funding value that ties so often in real data: 0.01 % per 8-hour period, three a day.
pub const BASE_FUNDING: f64 = 0.0003;

/// What to generate.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SynthConfig {
    /// Same seed, same panel.
    pub seed: u64,
    /// Total assets including `BTC` and the [`STABLECOINS`]; at least 5.
    pub n_assets: usize,
    /// Number of consecutive days; at least 1.
    pub n_days: usize,
    /// The first day.
    pub start: Day,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 42,
            n_assets: 120,
            n_days: 1461,
            start: Day(18_262), // 2020-01-01
        }
    }
}

/// A [`SynthConfig`] that cannot produce a panel.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynthError {
    #[error("n_assets = {0}: need at least 5 (BTC, 3 stablecoins and one other asset)")]
    TooFewAssets(usize),
    #[error("n_days = 0: need at least one day")]
    NoDays,
    #[error(transparent)]
    Panel(#[from] PanelError),
}

// ---------------------------------------------------------------------------------------------
// PRNG

/// splitmix64: turns any seed (including 0) into well-mixed state words.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman & Vigna), with the normal and Student-t draws the generator needs.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `[0, n)`; `n` must be positive. The modulo bias (< 2^-40 for the
    /// sizes used here) is irrelevant for synthetic data.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Log-uniform in `[lo, hi)`: plausible for sizes that span orders of magnitude.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        exp(self.range(ln(lo), ln(hi)))
    }

    /// Standard normal (Marsaglia's polar method: needs only `ln` and `sqrt`, no trigonometry).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * ln(s) / s).sqrt();
                self.spare_normal = Some(v * f);
                return u * f;
            }
        }
    }

    /// Student-t with `nu` (≥ 3) degrees of freedom, scaled to unit variance: the fat tails.
    pub fn student_t_unit(&mut self, nu: u32) -> f64 {
        let z = self.normal();
        let mut chi2 = 0.0;
        for _ in 0..nu {
            let g = self.normal();
            chi2 += g * g;
        }
        let nu = f64::from(nu);
        z / (chi2 / nu).sqrt() * ((nu - 2.0) / nu).sqrt()
    }
}

// ---------------------------------------------------------------------------------------------
// The market

/// Per-asset constants drawn once from the asset's stream.
struct AssetSpec {
    first: usize,
    /// Last listed row (inclusive).
    last: usize,
    kind: Kind,
    beta: f64,
    alpha: f64,
    idio_vol: f64,
    nu: u32,
    price0: f64,
    supply0: f64,
    /// Typical growth per monthly supply step (0 = fixed supply).
    supply_growth: f64,
    supply_offset: usize,
    turnover: f64,
    has_perp: bool,
    has_cap: bool,
    oi_ratio: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Reference,
    Stable,
    Alt,
}

/// Generates the panel described by `cfg`.
///
/// # Errors
/// [`SynthError`] when `cfg` asks for fewer than 5 assets or no days.
pub fn generate(cfg: &SynthConfig) -> Result<Panel, SynthError> {
    if cfg.n_assets < 5 {
        return Err(SynthError::TooFewAssets(cfg.n_assets));
    }
    if cfg.n_days == 0 {
        return Err(SynthError::NoDays);
    }
    let n = cfg.n_days;
    let symbols = symbols(cfg.seed, cfg.n_assets);
    let market = market_factor(cfg.seed, n);

    let mut fields: Vec<Vec<f64>> = (0..Field::COUNT)
        .map(|_| vec![f64::NAN; n * cfg.n_assets])
        .collect();
    for asset in 0..cfg.n_assets {
        let mut rng = Rng::new(cfg.seed ^ (asset as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let spec = asset_spec(&mut rng, asset, n);
        fill_asset(&mut rng, &spec, &market, asset * n, &mut fields);
    }
    let mut panel = Panel::new(cfg.start, n, symbols)?;
    for (field, values) in Field::ALL.into_iter().zip(fields) {
        panel.set_field(field, values)?;
    }
    Ok(panel)
}

/// `BTC`, the stablecoins, then unique random 3–5 letter tickers.
fn symbols(seed: u64, n_assets: usize) -> Vec<String> {
    let mut rng = Rng::new(seed ^ 0x5359_4D42_4F4C_5321);
    let mut out: Vec<String> = std::iter::once(REFERENCE)
        .chain(STABLECOINS)
        .map(String::from)
        .collect();
    let mut seen: std::collections::HashSet<String> = out.iter().cloned().collect();
    while out.len() < n_assets {
        let len = 3 + rng.below(3) as usize;
        let s: String = (0..len)
            .map(|_| char::from(b'A' + rng.below(26) as u8))
            .collect();
        if seen.insert(s.clone()) {
            out.push(s);
        }
    }
    out
}

/// Daily log return of the common factor: regime drift (bull/bear, switching about every 250
/// days) plus unit-variance t(5) shocks at 3 % a day.
fn market_factor(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed ^ 0x4D41_524B_4554_2121);
    let mut bull = true;
    (0..n)
        .map(|_| {
            if rng.chance(1.0 / 250.0) {
                bull = !bull;
            }
            let drift = if bull { 0.0015 } else { -0.002 };
            drift + 0.03 * rng.student_t_unit(5)
        })
        .collect()
}

fn asset_spec(rng: &mut Rng, asset: usize, n: usize) -> AssetSpec {
    let kind = match asset {
        0 => Kind::Reference,
        1..=3 => Kind::Stable,
        _ => Kind::Alt,
    };
    // Draw everything unconditionally so the stream position does not depend on the kind.
    let listed_from_start = rng.chance(0.35);
    let late_first = 1 + rng.below((n as u64 * 85 / 100).max(1)) as usize;
    let delists = rng.chance(0.3);
    let delist_u = rng.uniform();
    let beta = rng.range(0.5, 1.8);
    let alpha = 0.0005 * rng.normal();
    let idio_vol = rng.range(0.02, 0.07);
    let nu = 3 + rng.below(4) as u32;
    let cap0 = rng.log_uniform(2e7, 2e10);
    let price0 = rng.log_uniform(0.005, 300.0);
    let fixed_supply = rng.chance(0.25);
    let growth = rng.range(0.0, 0.04);
    let stable_growth = rng.range(-0.02, 0.05);
    let supply_offset = rng.below(30) as usize;
    let turnover = rng.log_uniform(0.005, 0.3);
    let has_perp = rng.chance(0.85);
    let has_cap = rng.chance(0.92);
    let oi_ratio = rng.log_uniform(0.002, 0.2);

    let (first, last) = match kind {
        Kind::Reference | Kind::Stable => (0, n - 1),
        Kind::Alt => {
            let first = if listed_from_start {
                0
            } else {
                late_first.min(n - 1)
            };
            let mut last = n - 1;
            if delists && first + 60 < n - 1 {
                let span = (n - 1 - (first + 60)) as f64;
                last = first + 60 + (delist_u * span) as usize;
            }
            (first, last)
        }
    };
    match kind {
        Kind::Reference => AssetSpec {
            first,
            last,
            kind,
            beta: 1.0,
            alpha: 0.0,
            idio_vol: 0.008,
            nu: 5,
            price0: 7200.0,
            supply0: 18.1e6,
            supply_growth: 0.0015,
            supply_offset,
            turnover: 0.03,
            has_perp: true,
            has_cap: true,
            oi_ratio: 0.06,
        },
        Kind::Stable => AssetSpec {
            first,
            last,
            kind,
            beta: 0.0,
            alpha: 0.0,
            idio_vol: 0.0015,
            nu: 5,
            price0: 1.0,
            supply0: cap0 * 2.0,
            supply_growth: stable_growth,
            supply_offset,
            turnover: 0.3,
            has_perp: false,
            has_cap: true,
            oi_ratio: 0.0,
        },
        Kind::Alt => AssetSpec {
            first,
            last,
            kind,
            beta,
            alpha,
            idio_vol,
            nu,
            price0,
            supply0: cap0 / price0,
            supply_growth: if fixed_supply { 0.0 } else { growth },
            supply_offset,
            turnover,
            has_perp,
            has_cap,
            oi_ratio,
        },
    }
}

fn fill_asset(rng: &mut Rng, s: &AssetSpec, market: &[f64], base: usize, f: &mut [Vec<f64>]) {
    let idx = |field: Field| field as usize;
    let mut prev_close = s.price0;
    let mut supply = s.supply0;
    let mut trend = 0.0;
    for (row, &mkt) in market.iter().enumerate().take(s.last + 1).skip(s.first) {
        let (close, log_ret) = if s.kind == Kind::Stable {
            let c = (1.0 + s.idio_vol * rng.normal()).clamp(0.97, 1.03);
            (c, ln(c / prev_close))
        } else {
            let r =
                (s.alpha + s.beta * mkt + s.idio_vol * rng.student_t_unit(s.nu)).clamp(-1.5, 1.5);
            (prev_close * exp(r), r)
        };
        let open = if row == s.first {
            close * exp(-log_ret)
        } else {
            prev_close
        };
        let wick = 1.0 + 0.4 * s.idio_vol.max(0.002) * rng.normal().abs();
        let wick2 = 1.0 + 0.4 * s.idio_vol.max(0.002) * rng.normal().abs();
        let high = open.max(close) * wick;
        let low = open.min(close) / wick2;

        if (row + s.supply_offset).is_multiple_of(30) && row != s.first {
            supply *= 1.0 + s.supply_growth * rng.range(0.5, 1.5);
        }
        let cap = close * supply;
        let usd_volume = cap * s.turnover * exp(0.4 * rng.normal() + 3.0 * log_ret.abs());

        trend = 0.9 * trend + 0.1 * log_ret;
        let tie = rng.chance(0.45);
        let noise = rng.normal();
        let funding = if tie {
            BASE_FUNDING
        } else {
            // Quantised to 0.0001 % per period, as venues publish it, which adds more ties.
            let raw = (BASE_FUNDING + 0.02 * trend + 0.0004 * noise).clamp(-0.006, 0.006);
            (raw / 3e-6).round() * 3e-6
        };
        let oi = cap * s.oi_ratio * exp(0.15 * rng.normal());

        let i = base + row;
        f[idx(Field::Open)][i] = open;
        f[idx(Field::High)][i] = high;
        f[idx(Field::Low)][i] = low;
        f[idx(Field::Close)][i] = close;
        f[idx(Field::Volume)][i] = usd_volume / close;
        if s.has_cap {
            f[idx(Field::MarketCap)][i] = cap;
            f[idx(Field::CirculatingSupply)][i] = supply;
        }
        if s.has_perp {
            f[idx(Field::FundingRate)][i] = funding;
            f[idx(Field::OpenInterest)][i] = oi;
        }
        prev_close = close;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthConfig {
        SynthConfig {
            seed: 7,
            n_assets: 110,
            n_days: 800,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn xoshiro_reference_sequence_is_stable() {
        // Pinned so a refactor cannot silently change every synthetic panel.
        let mut r = Rng::new(0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut r2 = Rng::new(0);
        assert_eq!(first, (0..3).map(|_| r2.next_u64()).collect::<Vec<_>>());
        assert_ne!(first[0], first[1]);
        let u = Rng::new(3).uniform();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn student_t_has_unit_variance_and_fat_tails() {
        let mut r = Rng::new(11);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.student_t_unit(5)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        let m4 = xs
            .iter()
            .map(|x| ((x - mean) * (x - mean)) * ((x - mean) * (x - mean)))
            .sum::<f64>()
            / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.03, "{var}");
        // Excess kurtosis of t(5) is 6; a normal would give 0.
        assert!(m4 / (var * var) - 3.0 > 2.0);
    }

    #[test]
    fn same_seed_same_panel_bit_for_bit() {
        let a = generate(&small()).unwrap();
        let b = generate(&small()).unwrap();
        for field in Field::ALL {
            let (x, y) = (a.field(field), b.field(field));
            assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        let c = generate(&SynthConfig { seed: 8, ..small() }).unwrap();
        assert_ne!(a.field(Field::Close)[..50], c.field(Field::Close)[..50]);
    }

    #[test]
    fn pinned_checksum() {
        // A fingerprint of the default panel: fails if any generated bit changes, which would
        // silently change every demo and every test that uses synthetic data.
        let p = generate(&SynthConfig {
            n_days: 300,
            ..SynthConfig::default()
        })
        .unwrap();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for field in Field::ALL {
            for v in p.field(field) {
                h = (h ^ v.to_bits()).wrapping_mul(0x100_0000_01b3);
            }
        }
        let first_btc = p.get(Field::Close, 0, 0);
        assert!(first_btc > 5000.0 && first_btc < 10_000.0, "{first_btc}");
        // Printed on failure so a deliberate change can update it.
        assert_eq!(h, PINNED, "checksum changed: {h:#x}");
    }
    const PINNED: u64 = 0x346a_e692_2a60_7040;

    #[test]
    fn prefix_of_assets_does_not_depend_on_count() {
        let a = generate(&small()).unwrap();
        let b = generate(&SynthConfig {
            n_assets: 130,
            ..small()
        })
        .unwrap();
        assert_eq!(a.symbols(), &b.symbols()[..110]);
        let bits = |p: &Panel| -> Vec<u64> {
            p.series(Field::Close, 50)
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn shape_and_special_assets() {
        let cfg = small();
        let p = generate(&cfg).unwrap();
        assert_eq!(p.n_assets(), 110);
        assert_eq!(p.n_days(), 800);
        assert_eq!(p.start(), cfg.start);
        let btc = p.asset_index("BTC").unwrap();
        assert!(p.series(Field::Close, btc).iter().all(|c| c.is_finite()));
        for s in STABLECOINS {
            let a = p.asset_index(s).unwrap();
            assert!(p
                .series(Field::Close, a)
                .iter()
                .all(|c| (0.97..=1.03).contains(c)));
            assert!(p.series(Field::FundingRate, a).iter().all(|f| f.is_nan()));
        }
        let unique: std::collections::HashSet<_> = p.symbols().iter().collect();
        assert_eq!(unique.len(), p.n_assets());
        assert!(matches!(
            generate(&SynthConfig {
                n_assets: 4,
                ..cfg.clone()
            }),
            Err(SynthError::TooFewAssets(4))
        ));
        assert!(matches!(
            generate(&SynthConfig { n_days: 0, ..cfg }),
            Err(SynthError::NoDays)
        ));
    }

    #[test]
    fn listings_delistings_and_no_gaps() {
        let p = generate(&small()).unwrap();
        let (mut late, mut delisted) = (0, 0);
        for a in 0..p.n_assets() {
            let close = p.series(Field::Close, a);
            let first = close.iter().position(|c| !c.is_nan()).unwrap();
            let last = close.iter().rposition(|c| !c.is_nan()).unwrap();
            late += usize::from(first > 0);
            delisted += usize::from(last < p.n_days() - 1);
            let has_cap = !p.get(Field::MarketCap, a, first).is_nan();
            let has_perp = !p.get(Field::FundingRate, a, first).is_nan();
            #[allow(clippy::needless_range_loop)] // r indexes several fields
            for r in first..=last {
                for f in [
                    Field::Open,
                    Field::High,
                    Field::Low,
                    Field::Close,
                    Field::Volume,
                ] {
                    let v = p.get(f, a, r);
                    assert!(v.is_finite() && v > 0.0, "{f:?} asset {a} row {r}: {v}");
                }
                assert!(p.get(Field::Low, a, r) <= p.get(Field::Open, a, r).min(close[r]));
                assert!(p.get(Field::High, a, r) >= p.get(Field::Open, a, r).max(close[r]));
                if has_cap {
                    let cap = p.get(Field::MarketCap, a, r);
                    let supply = p.get(Field::CirculatingSupply, a, r);
                    assert_eq!(cap, close[r] * supply);
                }
                if has_perp {
                    assert!(p.get(Field::FundingRate, a, r).is_finite());
                    assert!(p.get(Field::OpenInterest, a, r) > 0.0);
                }
            }
            for r in (0..first).chain(last + 1..p.n_days()) {
                assert!(Field::ALL.iter().all(|&f| p.get(f, a, r).is_nan()));
            }
        }
        assert!(late >= 20, "late listings: {late}");
        assert!(delisted >= 10, "delistings: {delisted}");
    }

    #[test]
    fn funding_ties_supply_steps_and_caps_are_plausible() {
        let p = generate(&small()).unwrap();
        let funding: Vec<f64> = p
            .field(Field::FundingRate)
            .iter()
            .copied()
            .filter(|f| !f.is_nan())
            .collect();
        let ties = funding.iter().filter(|&&f| f == BASE_FUNDING).count();
        let share = ties as f64 / funding.len() as f64;
        assert!((0.35..0.6).contains(&share), "tie share {share}");
        // Supply changes only on step days, so most days repeat the previous value.
        let a = 10;
        let s = p.series(Field::CirculatingSupply, a);
        let changes = s
            .windows(2)
            .filter(|w| w[0] != w[1] && !w[1].is_nan())
            .count();
        assert!(changes <= p.n_days() / 29 + 1);
        let btc_cap = p.get(Field::MarketCap, 0, 0);
        assert!((5e10..5e11).contains(&btc_cap), "{btc_cap}");
    }
}
