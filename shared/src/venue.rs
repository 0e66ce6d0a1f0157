//! The venue's grid: the lots and ticks an order must sit on, and the one function that puts an
//! order there ([`round_order`]).
//!
//! A venue accepts sizes only in whole lots and prices only on its tick grid. Hyperliquid's rules
//! (`docs/external-apis.md` §1.4, "Tick and lot size"): a size has at most `szDecimals` decimals;
//! a perp price has at most 5 significant figures and at most `6 − szDecimals` decimals, and
//! integer prices are always allowed; an order is worth at least $10. Some coins are contracts on
//! a multiple of the asset (`kPEPE` is 1000 PEPE, priced per 1000): the rules apply to the
//! venue's units and prices, while Lockstep sizes and prices in the asset's own.
//!
//! The live plan, the Hyperliquid wire format and the backtest's simulator all round here, so the
//! size and limit price a trader approves are, digit for digit, what the broker sends. The
//! results are exact decimals ([`Decimal`], `Copy`, no allocation) with their `f64` values for
//! arithmetic; strings are rendered on demand.
//!
//! Exits (a target of zero) round toward zero and never ask for more than is held: the held
//! units need not lie on today's grid (a lot grid that follows the price moves), and a
//! reduce-only order above the position is refused by the venue. What the grid cannot close is
//! reported as [`Dust`].

use std::cmp::Ordering;
use std::fmt;

// ------------------------------------------------------------------------------------------------
// Decimal

/// The largest scale a [`Decimal`] carries (10^18 fits an `i64`).
const MAX_SCALE: u32 = 18;

/// An exact decimal number, `mantissa × 10^−scale`, kept normalised (no trailing zero digits
/// after the point), so two equal numbers are equal values and [`fmt::Display`] needs no
/// trimming. Orders travel to the broker as these, never as formatted floats.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Decimal {
    mantissa: i64,
    scale: u32,
}

/// A string that is not a plain decimal number (`-12.345`), or one too long to hold exactly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal number: {0:?}")]
pub struct ParseDecimalError(pub String);

impl Decimal {
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// `mantissa × 10^−scale`, normalised. `None` when `scale` exceeds 18.
    pub fn new(mantissa: i64, scale: u32) -> Option<Decimal> {
        if scale > MAX_SCALE {
            return None;
        }
        let (mut m, mut s) = (mantissa, scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Some(Decimal {
            mantissa: m,
            scale: if m == 0 { 0 } else { s },
        })
    }

    /// The digits without the point.
    pub fn mantissa(self) -> i64 {
        self.mantissa
    }

    /// Decimals after the point (no trailing zeros).
    pub fn scale(self) -> u32 {
        self.scale
    }

    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    pub fn abs(self) -> Decimal {
        Decimal {
            mantissa: self.mantissa.abs(),
            ..self
        }
    }

    /// The `f64` nearest the decimal (the value `str::parse` gives for its string) whenever the
    /// mantissa has at most 15 digits: one correctly rounded division by an exact power of ten.
    pub fn to_f64(self) -> f64 {
        if self.scale == 0 {
            self.mantissa as f64
        } else {
            self.mantissa as f64 / crate::math::pow10(self.scale as i32)
        }
    }

    /// `self × 10^places`, exactly; `None` when the result does not fit.
    pub fn shift(self, places: i32) -> Option<Decimal> {
        let scale = self.scale as i64 - places as i64;
        if scale >= 0 {
            Decimal::new(self.mantissa, u32::try_from(scale).ok()?)
        } else {
            let factor = 10i64.checked_pow(u32::try_from(-scale).ok()?)?;
            Decimal::new(self.mantissa.checked_mul(factor)?, 0)
        }
    }

    /// The decimal an `f64` prints as (its shortest round-trip form: `250.3`, not
    /// `250.30000000000001`). For values that were made on a decimal grid this is that grid
    /// value. `None` for NaN, infinities and numbers with more than 18 decimals.
    pub fn from_f64_shortest(x: f64) -> Option<Decimal> {
        if !x.is_finite() {
            return None;
        }
        // Rust's `Display` for f64 never uses an exponent.
        format!("{x}").parse().ok()
    }

    /// Significant digits of the mantissa (0 for zero).
    fn digits(self) -> u32 {
        let mut m = self.mantissa.unsigned_abs();
        let mut n = 0;
        while m > 0 {
            m /= 10;
            n += 1;
        }
        n
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Decimal {
        Decimal {
            mantissa: -self.mantissa,
            ..self
        }
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let s = self.scale.max(other.scale);
        let a = self.mantissa as i128 * 10i128.pow(s - self.scale);
        let b = other.mantissa as i128 * 10i128.pow(s - other.scale);
        a.cmp(&b)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mantissa < 0 {
            f.write_str("-")?;
        }
        let m = self.mantissa.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{m}");
        }
        let p = 10u64.pow(self.scale);
        write!(
            f,
            "{}.{:0width$}",
            m / p,
            m % p,
            width = self.scale as usize
        )
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

impl std::str::FromStr for Decimal {
    type Err = ParseDecimalError;

    /// `[+-]digits[.digits]`; at least one digit, at most 18 after the point.
    fn from_str(s: &str) -> Result<Decimal, ParseDecimalError> {
        let bad = || ParseDecimalError(s.to_string());
        let t = s.trim();
        let (negative, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > MAX_SCALE as usize {
            return Err(bad());
        }
        let mut m: i64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return Err(bad());
            }
            m = m
                .checked_mul(10)
                .and_then(|m| m.checked_add((b - b'0') as i64))
                .ok_or_else(bad)?;
        }
        Decimal::new(if negative { -m } else { m }, frac.len() as u32).ok_or_else(bad)
    }
}

impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Decimal {
    /// A string (`"0.0124"`), or a JSON number read as the decimal it prints as.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
                Decimal::from_f64_shortest(v)
                    .ok_or_else(|| E::custom(format!("{v} is not a decimal number")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal::new(v, 0).unwrap_or_default())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
                i64::try_from(v)
                    .map(|v| Decimal::new(v, 0).unwrap_or_default())
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

// ------------------------------------------------------------------------------------------------
// The rules

/// How a venue lets a symbol be traded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VenueRule {
    /// Sizes carry at most this many decimals (in venue units).
    pub size_decimals: u32,
    /// Orders below this notional (USD) are refused by the venue.
    pub min_notional: f64,
    /// Significant figures a price may have (Hyperliquid: 5) …
    pub price_sig_figs: u32,
    /// … and at most this many decimals (Hyperliquid perps: 6 − size_decimals). Integer prices
    /// are always allowed.
    pub price_max_decimals: u32,
    /// How many of Lockstep's units one venue unit is: a power of ten. The size and price rules
    /// above apply to venue units and venue prices. 1 for almost everything; 1000 for
    /// Hyperliquid's `k` contracts (`kPEPE` is 1000 PEPE, priced per 1000), which Lockstep
    /// trades as the asset itself (`PEPE`): a plan sizes in PEPE, the order goes out in kPEPE.
    #[serde(default = "one")]
    pub venue_unit: f64,
}

fn one() -> f64 {
    1.0
}

impl VenueRule {
    /// Significant figures of a Hyperliquid perp price.
    pub const HYPERLIQUID_SIG_FIGS: u32 = 5;
    /// A Hyperliquid perp price carries at most this many decimals minus `szDecimals`.
    pub const HYPERLIQUID_PERP_DECIMALS: u32 = 6;
    /// "Order must have minimum value of $10."
    pub const HYPERLIQUID_MIN_NOTIONAL: f64 = 10.0;

    /// Hyperliquid's rule for a perp with `sz_decimals` (one venue unit = one of ours).
    pub fn hyperliquid_perp(sz_decimals: u32) -> VenueRule {
        VenueRule {
            size_decimals: sz_decimals,
            min_notional: Self::HYPERLIQUID_MIN_NOTIONAL,
            price_sig_figs: Self::HYPERLIQUID_SIG_FIGS,
            price_max_decimals: Self::HYPERLIQUID_PERP_DECIMALS.saturating_sub(sz_decimals),
            venue_unit: 1.0,
        }
    }

    /// The same rule for a contract on `venue_unit` of the asset.
    pub fn with_venue_unit(self, venue_unit: f64) -> VenueRule {
        VenueRule { venue_unit, ..self }
    }

    /// The power of ten the venue unit is (1000 → 3); `None` when it is not one.
    pub fn unit_exponent(&self) -> Option<i32> {
        let k = self.venue_unit;
        if !(k.is_finite() && k > 0.0) {
            return None;
        }
        let e = crate::math::log10(k).round() as i32;
        (crate::math::pow10(e) == k).then_some(e)
    }

    /// A size in Lockstep's units as the venue counts it (2,500,000 PEPE → 2500 kPEPE).
    pub fn to_venue_size(&self, size: Decimal) -> Option<Decimal> {
        size.shift(-self.unit_exponent()?)
    }

    /// A price per Lockstep unit as the venue quotes it (per 1000 for kPEPE).
    pub fn to_venue_price(&self, price: Decimal) -> Option<Decimal> {
        price.shift(self.unit_exponent()?)
    }

    /// Whether a venue size is a whole number of lots.
    pub fn is_lot(&self, venue_size: Decimal) -> bool {
        venue_size.scale() <= self.size_decimals
    }

    /// Whether a venue price is on the tick grid: an integer, or at most `price_sig_figs`
    /// significant figures and `price_max_decimals` decimals.
    pub fn is_tick(&self, venue_price: Decimal) -> bool {
        venue_price.scale() == 0
            || (venue_price.scale() <= self.price_max_decimals
                && venue_price.digits() <= self.price_sig_figs)
    }

    /// "0 size decimals", with the venue unit when it is not ours, for reasons and notes.
    pub fn size_grid(&self) -> SizeGrid {
        SizeGrid {
            decimals: self.size_decimals,
            venue_unit: self.venue_unit,
        }
    }
}

/// A lot grid as reasons and notes name it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizeGrid {
    pub decimals: u32,
    pub venue_unit: f64,
}

impl fmt::Display for SizeGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.venue_unit == 1.0 {
            write!(f, "{} size decimals", self.decimals)
        } else {
            write!(
                f,
                "{} size decimals of venue units of {}",
                self.decimals, self.venue_unit
            )
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Rounding

/// An order on the venue's grid, in Lockstep's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Order {
    /// Signed size (positive buys), a whole number of the venue's lots.
    pub size: Decimal,
    /// `size` as an `f64` — except for an exit that closes the whole position, where it is
    /// exactly the held units negated, so the position goes to zero without float dust.
    pub units: f64,
    /// The limit price per Lockstep unit, on the venue's tick grid.
    pub price: Decimal,
    /// `price` as an `f64`.
    pub limit_price: f64,
    /// An exit: only ever reduces the position.
    pub reduce_only: bool,
    /// What an exit cannot close.
    pub dust: Option<Dust>,
}

/// Why a wanted trade cannot be sent, with the size it had rounded to so far (zero when it
/// rounded away) and the dust an exit would leave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropped {
    pub size: Decimal,
    pub units: f64,
    pub reduce_only: bool,
    pub dust: Option<Dust>,
    pub reason: DropReason,
}

/// Units an exit leaves behind because the lot grid cannot express the held size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dust {
    pub held: f64,
    /// Units the exit closes (absolute).
    pub closed: Decimal,
    /// Units left (absolute).
    pub left: f64,
    pub grid: SizeGrid,
}

impl fmt::Display for Dust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the venue's {} cannot express the held {} units: the exit closes {} of them and \
             leaves {} as dust",
            self.grid, self.held, self.closed, self.left
        )
    }
}

/// Why an order is not sent. `Display` gives the sentence the plan shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DropReason {
    /// An exit of a position smaller than one lot.
    LessThanOneLot { held: f64, grid: SizeGrid },
    /// The trade rounds to zero lots.
    RoundsToZero { raw_units: f64, grid: SizeGrid },
    /// Worth less than the venue's minimum.
    BelowMinimum { value: f64, min: f64 },
    /// The tick grid has no price between the mark and the slippage cap.
    NoLimitPrice {
        is_buy: bool,
        mark: f64,
        max_slippage: f64,
        cap: f64,
        best: Decimal,
        sig_figs: u32,
        max_decimals: u32,
        venue_unit: f64,
    },
    /// The rule's venue unit is not a power of ten: sizes cannot be converted exactly.
    BadVenueUnit { venue_unit: f64 },
    /// The inputs are not finite, or the size does not fit an exact decimal.
    OutOfRange { what: &'static str, value: f64 },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DropReason::LessThanOneLot { held, grid } => write!(
                f,
                "the held {held} units are less than one lot at {grid}: nothing can be closed"
            ),
            DropReason::RoundsToZero { raw_units, grid } if grid.venue_unit == 1.0 => write!(
                f,
                "{raw_units:.10} units rounds to 0 at {} size decimals",
                grid.decimals
            ),
            DropReason::RoundsToZero { raw_units, grid } => write!(
                f,
                "{raw_units:.10} units rounds to 0 venue units of {} at {} size decimals",
                grid.venue_unit, grid.decimals
            ),
            DropReason::BelowMinimum { value, min } => write!(
                f,
                "order value ${value:.2} is below the venue minimum ${min:.2}"
            ),
            DropReason::NoLimitPrice {
                is_buy,
                mark,
                max_slippage,
                cap,
                best,
                sig_figs,
                max_decimals,
                venue_unit,
            } => {
                write!(
                    f,
                    "no {} limit price between the mark {mark} and the {}% slippage cap {}: the \
                     venue's prices have at most {sig_figs} significant figures and \
                     {max_decimals} decimals",
                    if is_buy { "buy" } else { "sell" },
                    max_slippage * 100.0,
                    cap / venue_unit,
                )?;
                if venue_unit != 1.0 {
                    write!(f, " per venue unit of {venue_unit}")?;
                }
                write!(
                    f,
                    ", and the best one within the cap, {best}, is {} the mark",
                    if is_buy { "below" } else { "above" }
                )
            }
            DropReason::BadVenueUnit { venue_unit } => write!(
                f,
                "the venue unit {venue_unit} is not a power of ten: sizes cannot be converted \
                 exactly"
            ),
            DropReason::OutOfRange { what, value } => {
                write!(f, "{what} {value} cannot be put on the venue's grid")
            }
        }
    }
}

/// `scaled` as a whole number: its nearest integer when it is one up to float noise
/// (1670.1 × 10 is 16700.999999999998, 0.3 × 10 is 3.0000000000000004), else `round(scaled)`.
fn on_grid_or(scaled: f64, round: fn(f64) -> f64) -> f64 {
    let nearest = scaled.round();
    if (scaled - nearest).abs() <= 1e-9 * scaled.abs().max(1.0) {
        nearest
    } else {
        round(scaled)
    }
}

/// Below 2^53 every integer is an exact f64 (and an exact i64 mantissa).
const EXACT: f64 = 9_007_199_254_740_992.0;

/// `x` (venue units) in whole lots of 10^−decimals, rounded by `round`, as our units' decimal.
fn lots(x: f64, decimals: u32, exponent: i32, round: fn(f64) -> f64) -> Option<Decimal> {
    let scaled = round(x * crate::math::pow10(decimals as i32));
    if !(scaled.is_finite() && scaled.abs() < EXACT) {
        return None;
    }
    Decimal::new(scaled as i64, decimals)?.shift(exponent)
}

fn round_half_away(x: f64) -> f64 {
    x.round()
}

fn toward_zero_on_grid(x: f64) -> f64 {
    on_grid_or(x, f64::trunc)
}

/// `px` on a tick grid — at most `sig_figs` significant figures and at most `max_decimals`
/// decimals, integers always allowed (Hyperliquid's rule; above 100,000 that means whole
/// dollars) — rounded down, or up when `up`. Zero for a non-positive price.
pub fn round_price(px: f64, sig_figs: u32, max_decimals: u32, up: bool) -> Decimal {
    if !(px.is_finite() && px > 0.0 && px < EXACT) {
        return Decimal::ZERO;
    }
    let magnitude = crate::math::floor_log10(px) as i64;
    let decimals = (sig_figs as i64 - 1 - magnitude).clamp(0, max_decimals as i64) as u32;
    let scaled = on_grid_or(
        px * crate::math::pow10(decimals as i32),
        if up { f64::ceil } else { f64::floor },
    );
    Decimal::new(scaled as i64, decimals).unwrap_or_default()
}

/// The limit price of a buy (`is_buy`) or a sell at `mark` (per Lockstep unit), on the venue's
/// tick grid and inside the slippage band: a buy's in [mark, mark × (1 + max_slippage)], a
/// sell's in [mark × (1 − max_slippage), mark]. A buy takes the highest grid price under its
/// cap, a sell the lowest above it: the most room the cap allows. Rounding to the nearest grid
/// price instead can land a buy below the mark (BONK at $0.00002105 with 6 decimals:
/// 0.0000212605 → 0.000021), which the venue refuses even with no slippage at all; when the grid
/// has no price in the band this says so instead.
///
/// # Errors
/// [`DropReason::NoLimitPrice`] (or `BadVenueUnit`/`OutOfRange` for unusable inputs).
pub fn limit_price(
    rule: &VenueRule,
    mark: f64,
    is_buy: bool,
    max_slippage: f64,
) -> Result<Decimal, DropReason> {
    let exponent = rule.unit_exponent().ok_or(DropReason::BadVenueUnit {
        venue_unit: rule.venue_unit,
    })?;
    if !(mark.is_finite() && mark > 0.0) {
        return Err(DropReason::OutOfRange {
            what: "mark price",
            value: mark,
        });
    }
    // The tick rule applies to the venue's price: per 1000 for kPEPE.
    let k = rule.venue_unit;
    let (sig, dec) = (rule.price_sig_figs, rule.price_max_decimals);
    let side = if is_buy { 1.0 } else { -1.0 };
    let cap = mark * k * (1.0 + side * max_slippage);
    let venue_px = if is_buy || cap > 0.0 {
        round_price(cap, sig, dec, !is_buy)
    } else {
        // A sell capped at 100 % or more: the lowest price the venue can express.
        Decimal::new(1, dec).unwrap_or_default()
    };
    let limit = venue_px.shift(-exponent).unwrap_or_default();
    let value = limit.to_f64();
    let inside = if is_buy {
        value >= mark
    } else {
        value > 0.0 && value <= mark
    };
    if inside {
        return Ok(limit);
    }
    Err(DropReason::NoLimitPrice {
        is_buy,
        mark,
        max_slippage,
        cap,
        best: limit,
        sig_figs: sig,
        max_decimals: dec,
        venue_unit: k,
    })
}

/// The order that takes a position of `held` units to `target` units (Lockstep's units) at
/// `mark`, on the venue's grid, with its limit price `max_slippage` away from the mark — or why
/// it cannot be sent.
///
/// - A target of zero is an exit: reduce-only, toward zero, never more than is held, exactly the
///   held units when the grid can express them (else the rest is [`Dust`]).
/// - Any other trade goes to the nearest lot (half away from zero, as Hyperliquid's SDK rounds),
///   except a reduction that rounding would carry past the held size: that goes toward zero.
/// - Then: zero lots, below the venue's minimum notional, or no tick price in the slippage band
///   drop the order, with the reason.
///
/// # Errors
/// [`Dropped`] with the reason and the size so far.
// The error is a plain value of ~150 bytes: boxing it would allocate on every dropped trade of
// a backtest, which calls this in its inner loop.
#[allow(clippy::result_large_err)]
pub fn round_order(
    rule: &VenueRule,
    held: f64,
    target: f64,
    mark: f64,
    max_slippage: f64,
) -> Result<Order, Dropped> {
    let drop = |size: Decimal, units: f64, reduce_only, dust, reason| Dropped {
        size,
        units,
        reduce_only,
        dust,
        reason,
    };
    let exit = target == 0.0;
    let Some(exponent) = rule.unit_exponent() else {
        let reason = DropReason::BadVenueUnit {
            venue_unit: rule.venue_unit,
        };
        return Err(drop(Decimal::ZERO, 0.0, exit, None, reason));
    };
    for (what, value) in [("held size", held), ("target size", target)] {
        if !value.is_finite() {
            let reason = DropReason::OutOfRange { what, value };
            return Err(drop(Decimal::ZERO, 0.0, exit, None, reason));
        }
    }
    let k = rule.venue_unit;
    let d = rule.size_decimals;
    let raw = if exit { -held } else { target - held };
    let out_of_range = DropReason::OutOfRange {
        what: "size",
        value: raw,
    };
    let mut dust = None;
    let (size, units) = if exit {
        // Reduce-only: never more than is held, though the held units need not be on today's
        // lot grid (the paper venue's lots follow the price, so a position bought at 1198.5 may
        // have to be closed at whole units). Toward zero; exactly the held units when the grid
        // can express them, so nothing is left behind.
        let Some(closable) = lots(held / k, d, exponent, toward_zero_on_grid) else {
            return Err(drop(Decimal::ZERO, 0.0, true, None, out_of_range));
        };
        let value = closable.to_f64();
        if (value - held).abs() <= 1e-9 * held.abs() {
            (-closable, -held)
        } else {
            if !closable.is_zero() {
                dust = Some(Dust {
                    held,
                    closed: closable.abs(),
                    left: (held - value).abs(),
                    grid: rule.size_grid(),
                });
            }
            (-closable, -value)
        }
    } else {
        let Some(nearest) = lots(raw / k, d, exponent, round_half_away) else {
            return Err(drop(Decimal::ZERO, 0.0, false, None, out_of_range));
        };
        // A reduction must not overshoot the held size by rounding up either.
        let reduces = raw * held < 0.0 && raw.abs() <= held.abs();
        let size = if reduces && nearest.to_f64().abs() > held.abs() {
            match lots(raw / k, d, exponent, toward_zero_on_grid) {
                Some(s) => s,
                None => return Err(drop(Decimal::ZERO, 0.0, false, None, out_of_range)),
            }
        } else {
            nearest
        };
        (size, size.to_f64())
    };
    if size.is_zero() {
        let reason = if exit {
            DropReason::LessThanOneLot {
                held,
                grid: rule.size_grid(),
            }
        } else {
            DropReason::RoundsToZero {
                raw_units: raw,
                grid: rule.size_grid(),
            }
        };
        return Err(drop(size, 0.0, exit, dust, reason));
    }
    let value = (units * mark).abs();
    if value.is_nan() || value < rule.min_notional {
        let reason = DropReason::BelowMinimum {
            value,
            min: rule.min_notional,
        };
        return Err(drop(size, units, exit, dust, reason));
    }
    match limit_price(rule, mark, units > 0.0, max_slippage) {
        Ok(price) => Ok(Order {
            size,
            units,
            price,
            limit_price: price.to_f64(),
            reduce_only: exit,
            dust,
        }),
        Err(reason) => Err(drop(size, units, exit, dust, reason)),
    }
}

// ------------------------------------------------------------------------------------------------
// Lot rules of a simulated venue

/// The size decimals of a venue whose lots follow the price (the paper venue): the fewest
/// decimals that make one lot worth at most $1 (at most 8).
pub fn size_decimals_for(price: f64) -> u32 {
    let mut d = 0u32;
    while d < 8 && price * crate::math::pow10(-(d as i32)) > 1.0 {
        d += 1;
    }
    d
}

/// The lots and minimums a venue applies, as the paper venue states them and the backtest
/// trades under them (`rebalance.venue_rules`): one [`VenueRule`] per price, and the one
/// rounding ([`round_order`]) the live plan sends orders through.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LotRules {
    /// Orders worth less (USD) are dropped (Hyperliquid: $10).
    pub min_notional: f64,
    /// Fixed size decimals; `None`: they follow the price ([`size_decimals_for`]).
    pub size_decimals: Option<u32>,
    /// The live plan's limit band (`max_slippage`): an order whose tick grid has no price
    /// between the mark and the band is dropped, in the plan and so in the simulator.
    pub max_slippage: f64,
    /// The account size (USD) the lots and minimums apply at: the simulator's book of
    /// `initial_nav` is this many dollars. A book that starts at the live equity uses that
    /// equity, so its units are the live account's.
    pub capital: f64,
}

impl Default for LotRules {
    /// Hyperliquid-like: a $10 minimum, lots that follow the price, the live plan's default 2 %
    /// limit band, a $100,000 book (the paper account's starting cash).
    fn default() -> Self {
        LotRules {
            min_notional: VenueRule::HYPERLIQUID_MIN_NOTIONAL,
            size_decimals: None,
            max_slippage: 0.02,
            capital: 100_000.0,
        }
    }
}

impl LotRules {
    /// The venue's rule for a symbol trading at `price`: its size decimals, the minimum, and
    /// Hyperliquid's perp price grid (5 significant figures, 6 − size decimals).
    pub fn rule(&self, price: f64) -> VenueRule {
        let d = self
            .size_decimals
            .unwrap_or_else(|| size_decimals_for(price));
        VenueRule {
            min_notional: self.min_notional,
            ..VenueRule::hyperliquid_perp(d)
        }
    }

    /// The signed units the venue trades to take `held` units to `target` at `price`
    /// ([`round_order`] under [`LotRules::rule`]), or `None` when the order is dropped. An exit
    /// (`target == 0`) returns exactly `-held` when the grid can close it, never more.
    pub fn trade(&self, held: f64, target: f64, price: f64) -> Option<f64> {
        round_order(&self.rule(price), held, target, price, self.max_slippage)
            .ok()
            .map(|o| o.units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn perp(size_decimals: u32) -> VenueRule {
        VenueRule::hyperliquid_perp(size_decimals)
    }

    #[test]
    fn lot_rules_follow_the_price_and_drop_what_the_venue_refuses() {
        assert_eq!(size_decimals_for(100_000.0), 5);
        assert_eq!(size_decimals_for(4_000.0), 4);
        assert_eq!(size_decimals_for(0.5), 0);
        assert_eq!(size_decimals_for(1.0), 0);
        assert_eq!(size_decimals_for(1e12), 8);
        let lots = LotRules::default();
        assert_eq!(lots.rule(2345.67), perp(4));
        // $1,000 of a $2,345.67 coin: 0.42631 lots of 0.0001 → 0.4263.
        assert_eq!(lots.trade(0.0, 1000.0 / 2345.67, 2345.67), Some(0.4263));
        // $9 is under the $10 minimum; a fixed 0 decimals rounds 0.4 units away.
        assert_eq!(lots.trade(0.0, 9.0 / 2345.67, 2345.67), None);
        let whole = LotRules {
            size_decimals: Some(0),
            ..lots
        };
        assert_eq!(whole.trade(0.0, 0.4, 2345.67), None);
        // An exit closes exactly what is held, or toward zero when the grid cannot.
        assert_eq!(lots.trade(0.4263, 0.0, 2345.67), Some(-0.4263));
        assert_eq!(whole.trade(-12.7, 0.0, 30.0), Some(12.0));
    }

    #[test]
    fn decimals_parse_print_and_compare_exactly() {
        assert_eq!(dec("1234.500").to_string(), "1234.5");
        assert_eq!(dec("-0.000").to_string(), "0");
        assert_eq!(dec("-0.0147").to_string(), "-0.0147");
        assert_eq!(dec("100").to_string(), "100");
        assert_eq!(dec(".5").to_string(), "0.5");
        assert_eq!(
            dec("0.000012468").to_f64(),
            "0.000012468".parse::<f64>().unwrap()
        );
        for bad in ["", "-", ".", "1.2.3", "1e5", "12a", "0.0000000000000000001"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
        assert!(dec("0.3") < dec("0.30001"));
        assert!(dec("-2") < dec("1.5"));
        assert_eq!(dec("1.50").cmp(&dec("1.5")), Ordering::Equal);
        // 2,500,000 PEPE is 2500 kPEPE; 0.0000124 per PEPE is 0.0124 per kPEPE.
        assert_eq!(dec("2500000").shift(-3), Some(dec("2500")));
        assert_eq!(dec("0.0000124").shift(3), Some(dec("0.0124")));
        assert_eq!(dec("9223372036854775807").shift(1), None);
        assert_eq!(Decimal::from_f64_shortest(250.3), Some(dec("250.3")));
        assert_eq!(
            Decimal::from_f64_shortest(0.1 + 0.2),
            Some(dec("0.30000000000000004"))
        );
        assert_eq!(Decimal::from_f64_shortest(f64::NAN), None);
        let json = serde_json::to_string(&dec("-1198.5")).unwrap();
        assert_eq!(json, "\"-1198.5\"");
        assert_eq!(
            serde_json::from_str::<Decimal>(&json).unwrap(),
            dec("-1198.5")
        );
        assert_eq!(
            serde_json::from_str::<Decimal>("250.3").unwrap(),
            dec("250.3")
        );
        assert_eq!(serde_json::from_str::<Decimal>("-3").unwrap(), dec("-3"));
    }

    #[test]
    fn the_tick_and_lot_rules_are_hyperliquids() {
        // tick-and-lot-size.md: 1234.5 ✓, 1234.56 ✗, 0.001234 ✓, 0.0012345 ✗ (szDecimals 0);
        // with szDecimals 1, 0.01234 ✓ and 0.012345 ✗; integers always.
        let r0 = perp(0);
        assert!(r0.is_tick(dec("1234.5")));
        assert!(!r0.is_tick(dec("1234.56")));
        assert!(r0.is_tick(dec("0.001234")));
        assert!(!r0.is_tick(dec("0.0012345")));
        assert!(perp(1).is_tick(dec("0.01234")));
        assert!(!perp(1).is_tick(dec("0.012345")));
        assert!(r0.is_tick(dec("123456")));
        assert!(!r0.is_tick(dec("12345.6")));
        assert!(perp(4).is_lot(dec("0.0147")));
        assert!(!perp(4).is_lot(dec("0.01474")));
        assert_eq!(perp(5).price_max_decimals, 1);
        assert_eq!(perp(7).price_max_decimals, 0);
        let kpepe = perp(0).with_venue_unit(1000.0);
        assert_eq!(kpepe.unit_exponent(), Some(3));
        assert_eq!(kpepe.to_venue_size(dec("81004000")), Some(dec("81004")));
        assert_eq!(perp(0).with_venue_unit(3.0).unit_exponent(), None);
    }

    #[test]
    fn prices_round_onto_the_tick_grid() {
        let p = |px, dec_, up| round_price(px, 5, dec_, up).to_string();
        // 1234.567 has two decimals too many: down for a buy's cap, up for a sell's.
        assert_eq!(p(1234.567, 6, false), "1234.5");
        assert_eq!(p(1234.567, 6, true), "1234.6");
        assert_eq!(p(0.00123456, 6, false), "0.001234");
        assert_eq!(p(0.00123456, 6, true), "0.001235");
        assert_eq!(p(0.012345, 5, false), "0.01234");
        assert_eq!(p(0.012345, 5, true), "0.01235");
        // Above 100,000 only whole dollars.
        assert_eq!(p(123_456.7, 1, false), "123456");
        assert_eq!(p(123_456.7, 1, true), "123457");
        // On the grid already: unchanged both ways (1670.1 × 10 = 16700.99…).
        assert_eq!(p(1670.1, 6, false), "1670.1");
        assert_eq!(p(1670.1, 6, true), "1670.1");
        assert_eq!(p(0.000021, 6, true), "0.000021");
        // Under $0.001 six decimals leave fewer than 5 significant figures.
        assert_eq!(p(0.000_021_260_5, 6, false), "0.000021");
        assert_eq!(p(0.000_021_260_5, 6, true), "0.000022");
        assert_eq!(p(0.000_000_4, 6, false), "0");
        assert_eq!(p(-1.0, 6, true), "0");
        // BTC has szDecimals 5: one decimal.
        assert_eq!(p(2.345678, 1, true), "2.4");
    }

    /// BONK at $0.00002105 with 6 price decimals: ticks of $0.000001 (4.75 % of the price).
    #[test]
    fn limit_prices_stay_between_the_mark_and_the_cap() {
        let r = perp(0);
        let why = limit_price(&r, 0.000_021_05, true, 0.01)
            .unwrap_err()
            .to_string();
        assert!(
            why.starts_with("no buy limit price between the mark 0.00002105"),
            "{why}"
        );
        assert!(why.contains("0.000021, is below the mark"), "{why}");
        // 0.00002105 × 1.05 = 0.0000221025 → down to 0.000022.
        assert_eq!(
            limit_price(&r, 0.000_021_05, true, 0.05),
            Ok(dec("0.000022"))
        );
        // A sell at 1 %: × 0.99 = 0.0000208395 → up to 0.000021 ≤ the mark.
        assert_eq!(
            limit_price(&r, 0.000_021_05, false, 0.01),
            Ok(dec("0.000021"))
        );
        // Five significant figures: 2345.67 × 1.02 = 2392.5834 → 2392.5; × 0.98 → 2298.8.
        assert_eq!(
            limit_price(&perp(4), 2345.67, true, 0.02),
            Ok(dec("2392.5"))
        );
        assert_eq!(
            limit_price(&perp(4), 2345.67, false, 0.02),
            Ok(dec("2298.8"))
        );
        // kPEPE: 0.0000098765 × 1000 × 1.001 = 0.0098863765 → 0.009886 per 1000.
        let kpepe = perp(0).with_venue_unit(1000.0);
        assert_eq!(
            limit_price(&kpepe, 0.000_009_876_5, true, 0.001),
            Ok(dec("0.000009886"))
        );
        let why = limit_price(&kpepe, 0.000_021_05, true, 0.0)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(
            why.is_empty() || why.contains("per venue unit of 1000"),
            "{why}"
        );
        // A sell capped at 100 %: the lowest price the venue can express.
        assert_eq!(limit_price(&perp(2), 5.0, false, 1.0), Ok(dec("0.0001")));
    }

    #[test]
    fn orders_round_to_lots_and_drop_with_reasons() {
        // $1,000 of PEPE at $0.000012345 in kPEPE lots: 81,004.455 → 81,004 kPEPE.
        let kpepe = perp(0).with_venue_unit(1000.0);
        let o = round_order(&kpepe, 0.0, 1000.0 / 0.000_012_345, 0.000_012_345, 0.01).unwrap();
        assert_eq!(o.size.to_string(), "81004000");
        assert_eq!(o.units, 81_004_000.0);
        // 0.012345 × 1.01 = 0.01246845 per kPEPE → 0.012468 → per PEPE.
        assert_eq!(o.price.to_string(), "0.000012468");
        assert_eq!(o.limit_price, "0.000012468".parse::<f64>().unwrap());
        assert!(!o.reduce_only);
        // 405 PEPE is under half a lot.
        let d = round_order(&kpepe, 0.0, 405.0, 0.000_012_345, 0.01).unwrap_err();
        assert!(d.size.is_zero());
        let why = d.reason.to_string();
        assert!(
            why.contains("rounds to 0 venue units of 1000 at 0 size decimals"),
            "{why}"
        );
        // $5 of a $2 coin: 2.5 → 3 units = $6 < $10.
        let d = round_order(&perp(0), 0.0, 2.5, 2.0, 0.02).unwrap_err();
        assert_eq!(d.size.to_string(), "3");
        assert_eq!(
            d.reason.to_string(),
            "order value $6.00 is below the venue minimum $10.00"
        );
        // BONK: the lots are fine, the price is not; the size is kept for the plan line.
        let d = round_order(&perp(0), 0.0, 47_505_938.24, 0.000_021_05, 0.01).unwrap_err();
        assert_eq!(d.size.to_string(), "47505938");
        assert!(matches!(
            d.reason,
            DropReason::NoLimitPrice { is_buy: true, .. }
        ));
    }

    /// A position bought at 1 size decimal must be closed at 0 decimals once the price fell:
    /// toward zero (1198, not 1199, which reduce-only refuses), and the dust is named.
    #[test]
    fn exits_never_exceed_the_held_size() {
        let o = round_order(&perp(0), -1198.5, 0.0, 0.9, 0.02).unwrap();
        assert_eq!(
            (o.size.to_string(), o.units, o.reduce_only),
            ("1198".into(), 1198.0, true)
        );
        assert_eq!(o.price.to_string(), "0.918");
        let dust = o.dust.unwrap().to_string();
        assert!(
            dust.contains("closes 1198 of them and leaves 0.5 as dust"),
            "{dust}"
        );
        // On the grid (0.3 × 10 is not exactly 3 in binary): exactly the held units.
        let o = round_order(&perp(2), 250.3, 0.0, 12.0, 0.02).unwrap();
        assert_eq!(
            (o.size.to_string(), o.units, o.dust),
            ("-250.3".into(), -250.3, None)
        );
        // Float noise in the held size still closes it whole, and the f64 is the held size.
        let held = 0.1 + 0.2;
        let o = round_order(&perp(1), held, 0.0, 100.0, 0.02).unwrap();
        assert_eq!((o.size.to_string(), o.units), ("-0.3".into(), -held));
        // Less than one lot held.
        let d = round_order(&perp(0), 0.4, 0.0, 30.0, 0.02).unwrap_err();
        let why = d.reason.to_string();
        assert!(
            why.contains("less than one lot at 0 size decimals"),
            "{why}"
        );
        // A reduction from 1198.7 to 0.1 wants −1198.6, which the nearest lot makes −1199,
        // past the held size: toward zero instead, and not reduce-only (not an exit).
        let o = round_order(&perp(0), 1198.7, 0.1, 0.9, 0.02).unwrap();
        assert_eq!((o.units, o.reduce_only), (-1198.0, false));
    }

    proptest! {
        /// Every order is on the grid (the venue would take its strings), inside its slippage
        /// band, never an exit larger than the position, and worth the venue's minimum.
        #[test]
        fn orders_are_always_on_the_grid(
            sz in 0u32..6,
            k_exp in 0i32..4,
            mark_exp in -6.0f64..5.0,
            held_units in -1.0e6f64..1.0e6,
            target_units in -1.0e6f64..1.0e6,
            exit in any::<bool>(),
            slip in 0.001f64..0.1,
        ) {
            let rule = perp(sz).with_venue_unit(crate::math::pow10(k_exp));
            let mark = crate::math::powf(10.0, mark_exp);
            // (The band is exact up to the grid's float-noise snap, 1e-9 relative.)
            let target = if exit { 0.0 } else { target_units / mark.max(1e-3) };
            let held = held_units / mark.max(1e-3);
            if let Ok(o) = round_order(&rule, held, target, mark, slip) {
                let venue_size = rule.to_venue_size(o.size).unwrap();
                prop_assert!(rule.is_lot(venue_size), "{venue_size:?}");
                let venue_px = rule.to_venue_price(o.price).unwrap();
                prop_assert!(rule.is_tick(venue_px), "{venue_px:?}");
                prop_assert!((o.units - o.size.to_f64()).abs() <= 1e-9 * o.units.abs());
                if o.units > 0.0 {
                    prop_assert!(o.limit_price >= mark && o.limit_price <= mark * (1.0 + slip) * (1.0 + 1e-9));
                } else {
                    prop_assert!(o.limit_price <= mark && o.limit_price >= mark * (1.0 - slip) * (1.0 - 1e-9));
                }
                prop_assert!((o.units * mark).abs() >= rule.min_notional);
                if target == 0.0 {
                    prop_assert!(o.reduce_only);
                    prop_assert!(o.units.abs() <= held.abs());
                    prop_assert!(o.units * held < 0.0);
                }
            }
        }
    }
}
