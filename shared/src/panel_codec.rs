//! The compact binary form of a [`Panel`] that `/api/panel` sends and the browser decodes.
//!
//! Lossless: the browser's backtest must see exactly the `f64`s the server's kernels use, so
//! every value's bits survive (NaN included). One implementation for both ends: the server
//! encodes with it, the WASM build decodes with it.
//!
//! # Format (version 1, all integers little-endian)
//!
//! ```text
//! "LSPN"            magic
//! u8  version       1
//! i32 start         first day (days since 1970-01-01)
//! u32 n_days
//! u32 n_symbols     then each symbol: u8 length, UTF-8 bytes
//! u8  n_fields      then each field:  u8 length, its `Field::name()`
//! u32 raw_len       length of the payload before compression (n_fields × n_symbols × n_days × 8)
//! ...               the payload, deflate-compressed (raw deflate, no zlib header)
//! ```
//!
//! Version 2 (only for a panel asked for a venue, `/api/panel?venue=`; without one the server
//! still sends version 1) inserts the venue's universe ([`VenueUniverse`]) after the fields,
//! before `raw_len`, so that the browser's backtest trades the universe the server's does:
//!
//! ```text
//! u8  len, UTF-8    the venue
//! u8  has_listings  0: the store holds no listing history for the venue; 1: it follows
//! u32 n_listed      then each symbol: u8 length, UTF-8, u16 n_spans, each span
//!                   i32 first day, i32 last day (i32::MIN: still listed)
//! u16 n_notes       then each funding-fallback note: u16 length, UTF-8
//! ```
//!
//! The payload is column-major like the panel: for each field, for each asset, its `n_days`
//! values. Before compression each series is XOR-delta coded (each value's bits XOR the previous
//! value's bits in the same series; the first against 0), which turns runs of NaN and slowly
//! moving prices into runs of zero bytes, and then each field's 8-byte words are byte-shuffled
//! (all first bytes, then all second bytes, ...), which groups the mostly-constant sign and
//! exponent bytes together for deflate.

use crate::calendar::Day;
use crate::panel::{Field, Panel, PanelError};
use crate::universe::{Listings, Span, VenueUniverse};
use std::ops::RangeInclusive;

pub const MAGIC: &[u8; 4] = b"LSPN";
/// The version of a panel without a venue (what [`encode`] writes).
pub const VERSION: u8 = 1;
/// The version of a panel with its venue's universe ([`encode_for_venue`]).
pub const VERSION_VENUE: u8 = 2;
/// A span's last day on the wire when it is still listed.
const OPEN_SPAN: i32 = i32::MIN;
/// The HTTP media type of an encoded panel.
pub const MEDIA_TYPE: &str = "application/x-lockstep-panel";
/// Deflate level: encoding happens once per data version on the server, so spend the time.
const LEVEL: u8 = 9;

/// An encoded panel that cannot be decoded, or a request that cannot be encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    #[error("not an encoded panel (bad magic bytes)")]
    BadMagic,
    #[error(
        "encoded panel version {0} is not supported (this build reads versions {VERSION} and {VERSION_VENUE})"
    )]
    UnsupportedVersion(u8),
    #[error("encoded panel is truncated")]
    Truncated,
    #[error("encoded panel payload does not inflate: {0}")]
    Inflate(String),
    #[error("encoded panel payload has {got} bytes, the header says {expected}")]
    PayloadLength { got: usize, expected: usize },
    #[error("unknown field {0:?} in encoded panel")]
    UnknownField(String),
    #[error("symbol {0:?} is longer than 255 bytes")]
    SymbolTooLong(String),
    #[error("venue universe does not fit the format: {0}")]
    VenueTooLarge(String),
    #[error("rows {first}..={last} are outside the panel's {n_days} days")]
    Rows {
        first: usize,
        last: usize,
        n_days: usize,
    },
    #[error("encoded panel is too large: {0}")]
    TooLarge(String),
    #[error(transparent)]
    Panel(#[from] PanelError),
}

/// A decoded panel and the fields the encoding carried (the others are all NaN).
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub panel: Panel,
    pub fields: Vec<Field>,
    /// The venue's universe a version-2 encoding carried; `None` from version 1.
    pub venue: Option<VenueUniverse>,
}

/// Encodes `fields` of `panel`'s rows `rows` (all assets), version 1.
///
/// # Errors
/// Rows outside the panel, or a symbol longer than 255 bytes.
pub fn encode(
    panel: &Panel,
    fields: &[Field],
    rows: RangeInclusive<usize>,
) -> Result<Vec<u8>, CodecError> {
    encode_with(panel, fields, rows, None)
}

/// [`encode`] with `venue`'s universe (version 2): what a run on that venue needs besides the
/// panel, so the decoder runs on the same listings as the encoder's side.
///
/// # Errors
/// As [`encode`], and a venue section that does not fit its counts (a name or symbol over 255
/// bytes, more than 65,535 spans of one symbol or notes, a note over 65,535 bytes).
pub fn encode_for_venue(
    panel: &Panel,
    fields: &[Field],
    rows: RangeInclusive<usize>,
    venue: &VenueUniverse,
) -> Result<Vec<u8>, CodecError> {
    encode_with(panel, fields, rows, Some(venue))
}

fn short_string(out: &mut Vec<u8>, s: &str) -> Result<(), CodecError> {
    let len = u8::try_from(s.len())
        .map_err(|_| CodecError::VenueTooLarge(format!("{s:?} is longer than 255 bytes")))?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn count_u16(n: usize, what: &str) -> Result<[u8; 2], CodecError> {
    u16::try_from(n)
        .map(u16::to_le_bytes)
        .map_err(|_| CodecError::VenueTooLarge(format!("{n} {what} (at most 65535)")))
}

fn encode_venue(out: &mut Vec<u8>, v: &VenueUniverse) -> Result<(), CodecError> {
    short_string(out, &v.venue)?;
    match &v.listings {
        None => out.push(0),
        Some(l) => {
            out.push(1);
            out.extend_from_slice(&(l.len() as u32).to_le_bytes());
            for (symbol, spans) in l.iter() {
                short_string(out, symbol)?;
                out.extend_from_slice(&count_u16(spans.len(), "spans of one symbol")?);
                for span in spans {
                    out.extend_from_slice(&span.first.0.to_le_bytes());
                    out.extend_from_slice(&span.last.map_or(OPEN_SPAN, |d| d.0).to_le_bytes());
                }
            }
        }
    }
    out.extend_from_slice(&count_u16(v.funding_fallbacks.len(), "funding notes")?);
    for note in &v.funding_fallbacks {
        out.extend_from_slice(&count_u16(note.len(), "bytes in a funding note")?);
        out.extend_from_slice(note.as_bytes());
    }
    Ok(())
}

fn encode_with(
    panel: &Panel,
    fields: &[Field],
    rows: RangeInclusive<usize>,
    venue: Option<&VenueUniverse>,
) -> Result<Vec<u8>, CodecError> {
    let (first, last) = (*rows.start(), *rows.end());
    if first > last || last >= panel.n_days() {
        return Err(CodecError::Rows {
            first,
            last,
            n_days: panel.n_days(),
        });
    }
    let n_days = last - first + 1;
    let n_assets = panel.n_assets();
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(MAGIC);
    out.push(if venue.is_some() {
        VERSION_VENUE
    } else {
        VERSION
    });
    out.extend_from_slice(&(panel.start().0 + first as i32).to_le_bytes());
    out.extend_from_slice(&(n_days as u32).to_le_bytes());
    out.extend_from_slice(&(n_assets as u32).to_le_bytes());
    for s in panel.symbols() {
        let len = u8::try_from(s.len()).map_err(|_| CodecError::SymbolTooLong(s.clone()))?;
        out.push(len);
        out.extend_from_slice(s.as_bytes());
    }
    out.push(fields.len() as u8);
    for f in fields {
        out.push(f.name().len() as u8);
        out.extend_from_slice(f.name().as_bytes());
    }
    if let Some(v) = venue {
        encode_venue(&mut out, v)?;
    }
    let words = n_assets * n_days;
    let raw_len = fields.len() * words * 8;
    out.extend_from_slice(&(raw_len as u32).to_le_bytes());
    let mut raw = vec![0u8; raw_len];
    let mut xored = vec![0u64; words];
    for (k, f) in fields.iter().enumerate() {
        for a in 0..n_assets {
            let series = &panel.series(*f, a)[first..=last];
            let mut prev = 0u64;
            for (t, v) in series.iter().enumerate() {
                let bits = v.to_bits();
                xored[a * n_days + t] = bits ^ prev;
                prev = bits;
            }
        }
        let block = &mut raw[k * words * 8..(k + 1) * words * 8];
        for (i, w) in xored.iter().enumerate() {
            let bytes = w.to_le_bytes();
            for (b, byte) in bytes.iter().enumerate() {
                block[b * words + i] = *byte;
            }
        }
    }
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(&raw, LEVEL));
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated)?;
        let s = self.bytes.get(self.pos..end).ok_or(CodecError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn string(&mut self) -> Result<String, CodecError> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CodecError::Truncated)
    }
    fn long_string(&mut self) -> Result<String, CodecError> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CodecError::Truncated)
    }

    /// The venue section of version 2. Counts come from outside: every item is read before it
    /// is stored (nothing is reserved from a count), so the bytes bound the allocation.
    fn venue(&mut self) -> Result<VenueUniverse, CodecError> {
        let venue = self.string()?;
        let listings = match self.u8()? {
            0 => None,
            1 => {
                let mut l = Listings::new(venue.clone());
                for _ in 0..self.u32()? {
                    let symbol = self.string()?;
                    for _ in 0..self.u16()? {
                        let first = Day(self.i32()?);
                        let last = match self.i32()? {
                            OPEN_SPAN => None,
                            d => Some(Day(d)),
                        };
                        l.add(symbol.clone(), Span { first, last });
                    }
                }
                Some(l)
            }
            _ => return Err(CodecError::Truncated),
        };
        let mut funding_fallbacks = Vec::new();
        for _ in 0..self.u16()? {
            funding_fallbacks.push(self.long_string()?);
        }
        Ok(VenueUniverse {
            venue,
            listings,
            funding_fallbacks,
        })
    }
}

/// The most cells (days × assets) a decoded panel may have: the real panel has ~300,000. The
/// panel holds every field for every cell, so the header alone would otherwise let 22 bytes ask
/// the decoder for hundreds of gigabytes.
pub const MAX_CELLS: usize = 4_000_000;

/// The most days a decoded panel may span: the whole supported calendar (`Day::MIN..=Day::MAX`).
pub const MAX_DAYS: usize = (Day::MAX.0 - Day::MIN.0 + 1) as usize;

/// Decodes what [`encode`] produced.
///
/// # Errors
/// Anything that is not a complete version-1 encoding, or one larger than [`MAX_CELLS`] /
/// [`MAX_DAYS`]. Never a panic, and never an allocation beyond those bounds, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Decoded, CodecError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4).map_err(|_| CodecError::BadMagic)? != MAGIC {
        return Err(CodecError::BadMagic);
    }
    let version = r.u8()?;
    if version != VERSION && version != VERSION_VENUE {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let start = Day(r.i32()?);
    let n_days = r.u32()? as usize;
    let n_assets = r.u32()? as usize;
    if n_days > MAX_DAYS || start.0.checked_add(n_days as i32).is_none() {
        return Err(CodecError::TooLarge(format!(
            "{n_days} days from day {} (at most {MAX_DAYS})",
            start.0
        )));
    }
    if n_days.saturating_mul(n_assets) > MAX_CELLS {
        return Err(CodecError::TooLarge(format!(
            "{n_days} days × {n_assets} assets (at most {MAX_CELLS} cells)"
        )));
    }
    let symbols = (0..n_assets)
        .map(|_| r.string())
        .collect::<Result<Vec<_>, _>>()?;
    let n_fields = r.u8()? as usize;
    let fields = (0..n_fields)
        .map(|_| {
            let name = r.string()?;
            Field::from_name(&name).ok_or(CodecError::UnknownField(name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let venue = if version == VERSION_VENUE {
        Some(r.venue()?)
    } else {
        None
    };
    let raw_len = r.u32()? as usize;
    let words = n_assets.checked_mul(n_days).ok_or(CodecError::Truncated)?;
    let expected = fields
        .len()
        .checked_mul(words)
        .and_then(|x| x.checked_mul(8))
        .ok_or(CodecError::Truncated)?;
    if raw_len != expected {
        return Err(CodecError::PayloadLength {
            got: raw_len,
            expected,
        });
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes[r.pos..], raw_len)
        .map_err(|e| CodecError::Inflate(format!("{:?}", e.status)))?;
    if raw.len() != raw_len {
        return Err(CodecError::PayloadLength {
            got: raw.len(),
            expected: raw_len,
        });
    }
    let mut panel = Panel::new(start, n_days, symbols)?;
    for (k, f) in fields.iter().enumerate() {
        let block = &raw[k * words * 8..(k + 1) * words * 8];
        let mut values = vec![0f64; words];
        for a in 0..n_assets {
            let mut prev = 0u64;
            for t in 0..n_days {
                let i = a * n_days + t;
                let mut w = [0u8; 8];
                for (b, byte) in w.iter_mut().enumerate() {
                    *byte = block[b * words + i];
                }
                let bits = u64::from_le_bytes(w) ^ prev;
                values[i] = f64::from_bits(bits);
                prev = bits;
            }
        }
        panel.set_field(*f, values)?;
    }
    Ok(Decoded {
        panel,
        fields,
        venue,
    })
}

/// FNV-1a, 64 bits: a stable content hash for HTTP ETags (not a cryptographic hash).
pub fn content_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{generate, SynthConfig};

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn round_trips_every_bit_including_odd_values() {
        let mut p = Panel::new(Day(100), 6, vec!["A".into(), "BB".into()]).unwrap();
        let odd = [
            0.1 + 0.2,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            f64::INFINITY,
            f64::from_bits(0x7ff8_dead_beef_0001),
            1e308,
        ];
        for (t, v) in odd.iter().enumerate() {
            p.set(Field::Close, 0, t, *v);
            p.set(Field::FundingRate, 1, t, -v);
        }
        let bytes = encode(&p, &[Field::Close, Field::FundingRate], 0..=5).unwrap();
        let d = decode(&bytes).unwrap();
        assert_eq!(d.fields, vec![Field::Close, Field::FundingRate]);
        assert_eq!(d.panel.symbols(), p.symbols());
        for f in [Field::Close, Field::FundingRate] {
            assert!(same_bits(d.panel.field(f), p.field(f)), "{f:?}");
        }
        assert!(
            d.panel.field(Field::Open).iter().all(|v| v.is_nan()),
            "not sent: missing"
        );
    }

    #[test]
    fn windows_and_synthetic_panels_round_trip() {
        let p = generate(&SynthConfig {
            n_assets: 20,
            n_days: 300,
            ..SynthConfig::default()
        })
        .unwrap();
        let bytes = encode(&p, &Field::ALL, 10..=209).unwrap();
        let d = decode(&bytes).unwrap();
        assert_eq!(d.panel.start(), p.day(10));
        assert_eq!(d.panel.n_days(), 200);
        let w = p.window(10, 209).unwrap();
        for f in Field::ALL {
            assert!(same_bits(d.panel.field(f), w.field(f)), "{f:?}");
        }
        assert!(
            bytes.len() < 20 * 300 * 9 * 8 / 2,
            "compresses: {} bytes",
            bytes.len()
        );
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let p = generate(&SynthConfig {
            n_assets: 6,
            n_days: 50,
            ..SynthConfig::default()
        })
        .unwrap();
        let bytes = encode(&p, &[Field::Close], 0..=49).unwrap();
        assert_eq!(decode(b"nope"), Err(CodecError::BadMagic));
        let mut v3 = bytes.clone();
        v3[4] = 3;
        assert_eq!(decode(&v3), Err(CodecError::UnsupportedVersion(3)));
        for cut in [5, 12, 20, bytes.len() - 3] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        // A flipped payload byte either fails to inflate or changes a value, never panics.
        let _ = decode(&flipped);
        assert!(matches!(
            encode(&p, &[Field::Close], 0..=50),
            Err(CodecError::Rows { .. })
        ));
        assert_ne!(content_hash(&bytes), content_hash(&flipped));
    }

    fn hyperliquid() -> VenueUniverse {
        let mut l = Listings::new("hyperliquid");
        l.add(
            "A",
            Span {
                first: Day(101),
                last: None,
            },
        );
        l.add(
            "OLD",
            Span {
                first: Day(-5),
                last: Some(Day(102)),
            },
        );
        l.add(
            "OLD",
            Span {
                first: Day(200),
                last: None,
            },
        );
        VenueUniverse {
            venue: "hyperliquid".into(),
            listings: Some(l),
            funding_fallbacks: vec!["A: funding from binance on 2 day(s) …".into()],
        }
    }

    /// A venue's universe travels with the panel exactly (version 2), the panel's bits are
    /// unchanged by it, and a panel without a venue is still version 1 with no venue.
    #[test]
    fn the_venue_universe_round_trips_in_version_2() {
        let mut p = Panel::new(Day(100), 4, vec!["A".into(), "B".into()]).unwrap();
        p.set_field(Field::Close, (0..8).map(|i| i as f64 * 0.1).collect())
            .unwrap();
        let plain = encode(&p, &[Field::Close], 0..=3).unwrap();
        assert_eq!(plain[4], VERSION);
        assert_eq!(decode(&plain).unwrap().venue, None);
        for v in [
            hyperliquid(),
            VenueUniverse {
                venue: "hyperliquid".into(),
                listings: None,
                funding_fallbacks: vec![],
            },
            VenueUniverse {
                venue: "paper".into(),
                listings: Some(Listings::new("paper")),
                funding_fallbacks: vec![],
            },
        ] {
            let bytes = encode_for_venue(&p, &[Field::Close], 0..=3, &v).unwrap();
            assert_eq!(bytes[4], VERSION_VENUE);
            let d = decode(&bytes).unwrap();
            assert_eq!(d.venue.as_ref(), Some(&v));
            assert!(same_bits(
                d.panel.field(Field::Close),
                p.field(Field::Close)
            ));
            assert_eq!(d.venue.unwrap().resolve(), v.resolve());
        }
        let long = VenueUniverse {
            venue: "x".repeat(300),
            ..hyperliquid()
        };
        assert!(matches!(
            encode_for_venue(&p, &[Field::Close], 0..=3, &long),
            Err(CodecError::VenueTooLarge(_))
        ));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn encoded() -> Vec<u8> {
            let mut p = Panel::new(Day(18_000), 5, vec!["A".into(), "B".into()]).unwrap();
            p.set_field(Field::Close, (0..10).map(|i| i as f64).collect())
                .unwrap();
            encode(&p, &[Field::Close], 0..=4).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(crate::fuzz::cases(2048)))]

            /// Random bytes: an error, never a panic.
            #[test]
            fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = decode(&b);
            }

            /// A valid encoding with bytes flipped, cut or appended: it decodes (to a panel of
            /// bounded size) or errs — never a panic, never a huge allocation.
            #[test]
            fn damaged_encodings_never_panic(
                flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
                cut in any::<usize>(),
                tail in proptest::collection::vec(any::<u8>(), 0..16),
            ) {
                let mut b = encoded();
                for (at, x) in flips {
                    let n = b.len();
                    b[at % n] ^= x;
                }
                b.truncate(cut % (b.len() + 1));
                b.extend(tail);
                if let Ok(d) = decode(&b) {
                    prop_assert!(d.panel.n_days() * d.panel.symbols().len() <= MAX_CELLS);
                }
            }

            /// The same with a venue section (version 2).
            #[test]
            fn damaged_venue_encodings_never_panic(
                flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
                cut in any::<usize>(),
            ) {
                let mut p = Panel::new(Day(18_000), 5, vec!["A".into(), "B".into()]).unwrap();
                p.set_field(Field::Close, (0..10).map(|i| i as f64).collect()).unwrap();
                let mut b = encode_for_venue(&p, &[Field::Close], 0..=4, &hyperliquid()).unwrap();
                for (at, x) in flips {
                    let n = b.len();
                    b[at % n] ^= x;
                }
                b.truncate(cut % (b.len() + 1));
                if let Ok(d) = decode(&b) {
                    prop_assert!(d.panel.n_days() * d.panel.symbols().len() <= MAX_CELLS);
                }
            }

            /// A header that asks for an enormous panel is refused before anything is allocated.
            #[test]
            fn huge_headers_are_refused(n_days in any::<u32>(), n_assets in any::<u32>(), start in any::<i32>()) {
                let mut b = MAGIC.to_vec();
                b.push(VERSION);
                b.extend(start.to_le_bytes());
                b.extend(n_days.to_le_bytes());
                b.extend(n_assets.to_le_bytes());
                b.extend([0u8; 8]);
                if let Ok(d) = decode(&b) {
                    prop_assert!(d.panel.n_days() * d.panel.symbols().len() <= MAX_CELLS);
                }
            }
        }
    }
}
