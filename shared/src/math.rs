//! The transcendental functions every kernel uses, routed through the `libm` crate.
//!
//! Why not `f64::ln` and friends: `std` calls the platform's math library natively (glibc on
//! Linux, Apple's libm on macOS) but Rust's own port of musl's libm on `wasm32-unknown-unknown`.
//! Those are allowed to differ in the last bit, and a last-bit difference in one log return can
//! flip a ranking tie, so the browser's backtest would drift from the server's. Calling the same
//! pure-Rust `libm` code on every target makes native and WebAssembly agree to the last digit.
//!
//! `sqrt` is not here: IEEE 754 requires it to be correctly rounded, so `f64::sqrt` is the same
//! everywhere. Every other transcendental call in this crate must go through this module.

/// Natural logarithm.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// `e^x`.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// `x^y`.
#[inline]
pub fn powf(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// The complementary error function `1 − erf(x)`, accurate in the tails (the normal CDF).
#[inline]
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Sine (radians).
#[inline]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// Base-10 logarithm.
#[inline]
pub fn log10(x: f64) -> f64 {
    libm::log10(x)
}

/// The exact powers of ten an `f64` holds (10^22 is the largest).
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `10^e`: exact for `0 ≤ e ≤ 22`, the correctly rounded reciprocal of an exact power for
/// `−22 ≤ e < 0`, libm's `pow` beyond. (`f64::powi` is left to the platform's runtime.)
#[inline]
pub fn pow10(e: i32) -> f64 {
    match e.unsigned_abs() as usize {
        n if n < EXACT_POWERS_OF_TEN.len() && e >= 0 => EXACT_POWERS_OF_TEN[n],
        n if n < EXACT_POWERS_OF_TEN.len() => 1.0 / EXACT_POWERS_OF_TEN[n],
        _ => libm::pow(10.0, e as f64),
    }
}

/// `⌊log10 x⌋` for a finite positive `x`, exact at the powers of ten (where a logarithm may land
/// one ulp under the integer): the decimal magnitude of a price.
pub fn floor_log10(x: f64) -> i32 {
    let mut e = log10(x).floor() as i32;
    while pow10(e + 1) <= x {
        e += 1;
    }
    while pow10(e) > x {
        e -= 1;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrappers are libm's functions and nothing else: the same bits as calling the crate,
    /// which is the same code on native and wasm32. (Comparing with `f64::ln` would test the
    /// platform, not us: on glibc they usually agree, and where they do not, libm is the one we
    /// want.)
    #[test]
    fn powers_of_ten_are_exact_and_magnitudes_right_at_the_boundaries() {
        for e in 0..=22 {
            assert_eq!(pow10(e), format!("1e{e}").parse::<f64>().unwrap(), "10^{e}");
            assert_eq!(pow10(-e), 1.0 / format!("1e{e}").parse::<f64>().unwrap());
            assert_eq!(floor_log10(pow10(e)), e);
            assert_eq!(floor_log10(pow10(e) * (1.0 - f64::EPSILON)), e - 1);
        }
        assert_eq!(pow10(30), 1e30);
        assert_eq!(floor_log10(0.00123), -3);
        assert_eq!(floor_log10(99_999.99), 4);
        assert_eq!(floor_log10(100_000.0), 5);
    }

    #[test]
    fn wrappers_are_libm_and_exact_where_math_says_so() {
        let mut x = 1e-300_f64;
        while x < 1e300 {
            assert_eq!(ln(x).to_bits(), libm::log(x).to_bits());
            assert_eq!(
                exp(ln(x) / 700.0).to_bits(),
                libm::exp(ln(x) / 700.0).to_bits()
            );
            x *= 7.3;
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(powf(2.0, 10.0), 1024.0);
        assert_eq!(powf(16.0, 0.25), 2.0);
        assert_eq!(sin(0.0), 0.0);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        // Accurate (libm's log/exp are within 1 ulp), so swapping them in changed no semantics.
        for v in [0.5, 1.5, 3.0, 1e-5, 123.456] {
            assert!((ln(v) - v.ln()).abs() <= f64::EPSILON * v.ln().abs().max(1.0));
            assert!((exp(v) - v.exp()).abs() <= 2.0 * f64::EPSILON * v.exp());
        }
    }

    /// Pinned bits of a few values, computed by libm 0.2: a `libm` upgrade that changed its
    /// results (and so every kernel's last bits) fails here first, with a clear message.
    #[test]
    fn pinned_bits() {
        let got = [ln(10.0), exp(0.1), powf(1.001, 365.0), ln(1.0001)];
        let bits: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, PINNED.to_vec(), "libm results changed: {bits:#x?}");
    }
    const PINNED: [u64; 4] = [
        0x4002_6bb1_bbb5_5516,
        0x3ff1_aec7_b35a_00d4,
        0x3ff7_0b44_f613_36a0,
        0x3f1a_368d_0657_fcd4,
    ];

    /// The guard: no source file of this crate calls `std`'s platform-dependent
    /// transcendentals. Method-call syntax only (`x.ln()`); this module's own wrappers are free
    /// functions, so they do not match; this file is skipped (its tests compare with `std` on
    /// purpose). A new kernel that writes `.exp()` fails here.
    #[test]
    fn no_std_transcendentals_in_the_crate() {
        const BANNED: [&str; 18] = [
            ".ln()",
            ".log(",
            ".log10()",
            ".log2()",
            ".ln_1p()",
            ".exp()",
            ".exp2()",
            ".exp_m1()",
            ".powf(",
            ".powi(",
            ".sin()",
            ".cos()",
            ".tan()",
            ".asin()",
            ".acos()",
            ".atan()",
            ".atan2(",
            ".cbrt()",
        ];
        let mut offenders = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("math.rs")
                {
                    files += 1;
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or("");
                        if BANNED.iter().any(|b| code.contains(b)) {
                            offenders.push(format!(
                                "{}:{}: {}",
                                path.display(),
                                i + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
        assert!(files > 20, "scanned only {files} files");
        assert!(
            offenders.is_empty(),
            "use crate::math instead:\n{}",
            offenders.join("\n")
        );
    }
}
