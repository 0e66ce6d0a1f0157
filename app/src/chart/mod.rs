//! Charts: plotters drawing on a `<canvas>` in the browser, with hover read-outs.
//!
//! The server renders an empty canvas of the right size (so the layout does not jump); the
//! hydrated app draws into it and redraws whenever the data or the hovered point changes.
//! Every chart is a [`frame::Frame`] (caption, read-out, canvas, pointer in canvas pixels) and
//! a drawing function of its own, one file per chart.

mod bar;
pub mod csv;
mod frame;
mod heat;
mod line;
mod stacked;
pub mod ticks;

/// The value formats the charts' axes and read-outs take (they live in [`crate::format`]).
pub use crate::format::YFormat;
pub use bar::{BarChart, BarGroup};
pub use heat::{HeatCell, HeatMap};
pub use line::{LineChart, Series};
pub use stacked::{
    nearest_day, stack_extent, stack_segments, zero_aligned, StackDay, StackPart, StackedBarChart,
    StackedData,
};

/// Colours that read well on the dark background, in the order series get them: sixteen
/// distinct hues, so a chart of every strategy (and the unattributed rest) repeats none.
pub const PALETTE: [(u8, u8, u8); 16] = [
    (79, 163, 255),
    (255, 166, 87),
    (63, 185, 80),
    (248, 81, 73),
    (188, 140, 255),
    (121, 226, 242),
    (210, 153, 34),
    (139, 152, 165),
    (255, 123, 196),
    (166, 226, 46),
    (0, 128, 128),
    (255, 215, 0),
    (150, 80, 40),
    (106, 90, 205),
    (240, 240, 240),
    (200, 70, 140),
];

#[cfg(test)]
mod palette_tests {
    /// Regression: the strategy-contribution chart repeated colours (8 colours for more series).
    #[test]
    fn every_strategy_and_the_rest_get_distinct_colours() {
        let needed = shared::strategies::STRATEGY_NAMES.len() + 1;
        assert!(super::PALETTE.len() >= needed, "{needed} series");
        for (i, a) in super::PALETTE.iter().enumerate() {
            for b in &super::PALETTE[i + 1..] {
                let d = (a.0 as i32 - b.0 as i32).pow(2)
                    + (a.1 as i32 - b.1 as i32).pow(2)
                    + (a.2 as i32 - b.2 as i32).pow(2);
                assert!(d > 40 * 40, "{a:?} and {b:?} look alike");
            }
        }
    }
}

// Layout shared by drawing (browser) and hit-testing (event handlers, compiled everywhere).
/// Canvas width in pixels (CSS scales it to the page).
const WIDTH: u32 = 1200;
const LEFT: u32 = 70;
const BOTTOM: u32 = 32;
const MARGIN: u32 = 12;

/// Where the plotting area sits in canvas pixels and which x range it spans, so a mouse
/// position can be turned back into a day.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct XMap {
    left: f64,
    right: f64,
    x0: f64,
    x1: f64,
}

impl XMap {
    fn day_at(&self, px: f64) -> Option<f64> {
        if self.right <= self.left || px < self.left || px > self.right {
            return None;
        }
        Some(self.x0 + (px - self.left) / (self.right - self.left) * (self.x1 - self.x0))
    }
}
