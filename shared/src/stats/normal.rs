//! The standard normal distribution: its CDF (through `erfc`, so the far tails keep their
//! relative accuracy) and its quantile function (Wichura's algorithm AS 241, `PPND16`, accurate
//! to about 1e-16). The deflated Sharpe ratio needs both.

// AS 241's coefficients are written as published (20 digits); f64 rounds them.
#![allow(clippy::excessive_precision)]

/// `Φ(x)`, the standard normal CDF.
pub fn cdf(x: f64) -> f64 {
    0.5 * crate::math::erfc(-x / std::f64::consts::SQRT_2)
}

/// `Φ⁻¹(p)`, the standard normal quantile: `-∞` at 0, `+∞` at 1, `NaN` outside `[0, 1]`.
///
/// M. J. Wichura, "Algorithm AS 241: The Percentage Points of the Normal Distribution",
/// Applied Statistics 37 (1988) 477–484: rational approximations on three ranges of `p`.
pub fn quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-crate::math::ln(tail)).sqrt();
    let v = if r <= 5.0 {
        let r = r - 1.6;
        poly(&C, r) / poly(&D, r)
    } else {
        let r = r - 5.0;
        poly(&E, r) / poly(&F, r)
    };
    if q < 0.0 {
        -v
    } else {
        v
    }
}

/// `c[0] + c[1] r + … + c[7] r⁷` by Horner's rule.
fn poly(c: &[f64; 8], r: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * r + k)
}

const A: [f64; 8] = [
    3.387_132_872_796_366_608,
    1.331_416_678_917_843_774_5e2,
    1.971_590_950_306_551_442_7e3,
    1.373_169_376_550_946_112_5e4,
    4.592_195_393_154_987_145_7e4,
    6.726_577_092_700_870_085_3e4,
    3.343_057_558_358_812_810_5e4,
    2.509_080_928_730_122_672_7e3,
];
const B: [f64; 8] = [
    1.0,
    4.231_333_070_160_091_125_2e1,
    6.871_870_074_920_579_083e2,
    5.394_196_021_424_751_107_7e3,
    2.121_379_430_158_659_586_7e4,
    3.930_789_580_009_271_061e4,
    2.872_908_573_572_194_267_4e4,
    5.226_495_278_852_854_561e3,
];
const C: [f64; 8] = [
    1.423_437_110_749_683_577_34,
    4.630_337_846_156_545_295_9,
    5.769_497_221_460_691_405_5,
    3.647_848_324_763_204_605_04,
    1.270_458_252_452_368_382_58,
    2.417_807_251_774_506_117_7e-1,
    2.272_384_498_926_918_458_33e-2,
    7.745_450_142_783_414_076_4e-4,
];
const D: [f64; 8] = [
    1.0,
    2.053_191_626_637_758_821_87,
    1.676_384_830_183_803_849_4,
    6.897_673_349_851_000_045_5e-1,
    1.481_039_764_274_800_745_9e-1,
    1.519_866_656_361_645_719_66e-2,
    5.475_938_084_995_344_946e-4,
    1.050_750_071_644_416_843_24e-9,
];
const E: [f64; 8] = [
    6.657_904_643_501_103_777_2,
    5.463_784_911_164_114_369_9,
    1.784_826_539_917_291_335_8,
    2.965_605_718_285_048_912_3e-1,
    2.653_218_952_657_612_309_3e-2,
    1.242_660_947_388_078_438_6e-3,
    2.711_555_568_743_487_578_15e-5,
    2.010_334_399_292_288_132_65e-7,
];
const F: [f64; 8] = [
    1.0,
    5.998_322_065_558_879_376_9e-1,
    1.369_298_809_227_358_053_1e-1,
    1.487_536_129_085_061_485_25e-2,
    7.868_691_311_456_132_591e-4,
    1.846_318_317_510_054_681_8e-5,
    1.421_511_758_316_445_888_7e-7,
    2.044_263_103_389_939_785_64e-15,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    /// Reference values from `scipy.stats.norm.ppf` / `norm.cdf` (SciPy 1.17.1, NumPy 2.4.6,
    /// float64), printed with `repr`.
    #[test]
    fn quantile_and_cdf_match_scipy() {
        let ppf = [
            (1e-300, -37.0470962993612),
            (1e-20, -9.262340089798409),
            (1e-10, -6.361340902404056),
            (0.001, -3.090232306167813),
            (0.02425, -1.972961051311885),
            (0.1, -1.2815515655446004),
            (0.3, -0.5244005127080409),
            (0.7, 0.5244005127080407),
            (0.975, 1.959963984540054),
            (0.99, 2.3263478740408408),
            (0.9963212055882856, 2.6802104449668875),
            (0.999999, 4.753424308817087),
        ];
        for (p, want) in ppf {
            assert!(
                close(quantile(p), want, 1e-14),
                "ppf({p}) = {} vs {want}",
                quantile(p)
            );
        }
        assert_eq!(quantile(0.5), 0.0);
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
        assert!(quantile(1.5).is_nan() && quantile(-0.1).is_nan() && quantile(f64::NAN).is_nan());
        let cdfs = [
            (-10.0, 7.61985302416047e-24),
            (-3.0, 0.0013498980316300933),
            (-1.0, 0.15865525393145707),
            (0.5, 0.6914624612740131),
            (1.2826, 0.9001838749074421),
            (2.0, 0.9772498680518208),
            (8.0, 0.9999999999999993),
        ];
        for (x, want) in cdfs {
            // libm's erfc and SciPy's ndtr (Cephes) differ by ~2e-14 relative at x = -10.
            assert!(
                close(cdf(x), want, 5e-14),
                "cdf({x}) = {} vs {want}",
                cdf(x)
            );
        }
        assert_eq!(cdf(0.0), 0.5);
        assert!(cdf(-38.0) < 1e-300);
        for p in [0.01, 0.2, 0.5, 0.8, 0.999] {
            assert!(close(cdf(quantile(p)), p, 1e-14));
        }
    }
}
