//! The heat map of a sweep: one cell per grid point coloured by the chosen metric, a colour
//! scale, a read-out of the hovered cell, and a click that opens the cell.

use super::frame::Frame;
use super::{YFormat, BOTTOM, LEFT, MARGIN, WIDTH};
use leptos::html::Canvas;
use leptos::prelude::*;

/// A heat map cell: grid position and value (NaN = no result).
#[derive(Clone, Debug, PartialEq)]
pub struct HeatCell {
    pub col: usize,
    pub row: usize,
    pub value: f64,
}

/// A heat map over a grid (a 2-D sweep); `on_click(col, row)` fires for the clicked cell.
#[component]
pub fn HeatMap(
    #[prop(into)] id: String,
    #[prop(into)] title: String,
    #[prop(into)] cols: Signal<Vec<String>>,
    #[prop(into)] rows: Signal<Vec<String>>,
    #[prop(into)] cells: Signal<Vec<HeatCell>>,
    #[prop(optional)] y_format: YFormat,
    on_click: Callback<(usize, usize)>,
    #[prop(default = 420)] height: u32,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let hover = RwSignal::new(None::<(usize, usize)>);
    #[cfg(feature = "hydrate")]
    super::frame::redraw(canvas, move |c| {
        let (c_lbl, r_lbl, cl) = (cols.get(), rows.get(), cells.get());
        draw::heat(c, &c_lbl, &r_lbl, &cl, y_format, hover.get());
    });
    let cell_at = move |(px, py): (f64, f64)| -> Option<(usize, usize)> {
        heat_index(
            WIDTH as f64,
            height as f64,
            cols.with_untracked(|v| v.len()),
            rows.with_untracked(|v| v.len()),
            px,
            py,
        )
    };
    let on_pointer = Callback::new(move |p: Option<(f64, f64)>| hover.set(p.and_then(cell_at)));
    let on_click = Callback::new(move |p: (f64, f64)| {
        if let Some(c) = cell_at(p) {
            on_click.run(c);
        }
    });
    let readout = Signal::derive(move || {
        let (ci, ri) = hover.get()?;
        let v = cells.with(|cs| {
            cs.iter()
                .find(|c| c.col == ci && c.row == ri)
                .map(|c| c.value)
        })?;
        let (cl, rl) = (
            cols.with(|c| c.get(ci).cloned())?,
            rows.with(|r| r.get(ri).cloned()).unwrap_or_default(),
        );
        Some(format!(
            "{cl} × {rl} → {}",
            if v.is_nan() {
                "no result".to_string()
            } else {
                y_format.format(v)
            }
        ))
    });
    let csv = Callback::new(move |()| {
        cols.with_untracked(|c| {
            rows.with_untracked(|r| cells.with_untracked(|x| super::csv::heat(c, r, x)))
        })
    });
    view! { <Frame id title class="chart heatmap" canvas height readout on_pointer on_click csv/> }
}

fn heat_area(width: f64, height: f64) -> (f64, f64, f64, f64) {
    (
        MARGIN as f64 + LEFT as f64,
        width - MARGIN as f64 - 90.0,
        MARGIN as f64,
        height - MARGIN as f64 - BOTTOM as f64,
    )
}

/// The cell under pixel `(px, py)`; rows are drawn bottom-up.
fn heat_index(
    w: f64,
    h: f64,
    n_cols: usize,
    n_rows: usize,
    px: f64,
    py: f64,
) -> Option<(usize, usize)> {
    let (l, r, t, b) = heat_area(w, h);
    if n_cols == 0 || n_rows == 0 || px < l || px >= r || py < t || py >= b {
        return None;
    }
    let c = ((px - l) / (r - l) * n_cols as f64) as usize;
    let row_from_top = ((py - t) / (b - t) * n_rows as f64) as usize;
    Some((c.min(n_cols - 1), n_rows - 1 - row_from_top.min(n_rows - 1)))
}

#[cfg(feature = "hydrate")]
mod draw {
    use super::super::frame::paint::{self, FG, GRID, TEXT};
    use super::super::{YFormat, MARGIN};
    use super::{heat_area, HeatCell};
    use plotters::prelude::*;

    /// Blue (low) → grey → orange (high).
    fn ramp(u: f64) -> RGBColor {
        let u = u.clamp(0.0, 1.0);
        let (a, m, b) = (
            (49.0, 99.0, 180.0),
            (70.0, 78.0, 88.0),
            (230.0, 140.0, 50.0),
        );
        let lerp = |p: (f64, f64, f64), q: (f64, f64, f64), s: f64| {
            RGBColor(
                (p.0 + (q.0 - p.0) * s) as u8,
                (p.1 + (q.1 - p.1) * s) as u8,
                (p.2 + (q.2 - p.2) * s) as u8,
            )
        };
        if u < 0.5 {
            lerp(a, m, u * 2.0)
        } else {
            lerp(m, b, (u - 0.5) * 2.0)
        }
    }

    pub fn heat(
        canvas: &web_sys::HtmlCanvasElement,
        cols: &[String],
        rows: &[String],
        cells: &[HeatCell],
        fmt: YFormat,
        hover: Option<(usize, usize)>,
    ) {
        let Some(root) = paint::area(canvas) else {
            return;
        };
        let (w, h) = (canvas.width() as f64, canvas.height() as f64);
        let (l, r, t, b) = heat_area(w, h);
        let (nc, nr) = (cols.len(), rows.len().max(1));
        if nc == 0 || cells.is_empty() {
            paint::message(&root, "Run a sweep to see the heat map");
            return;
        }
        let finite: Vec<f64> = cells
            .iter()
            .map(|c| c.value)
            .filter(|v| v.is_finite())
            .collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let cw = (r - l) / nc as f64;
        let ch = (b - t) / nr as f64;
        let font = ("sans-serif", 12).into_font().color(&FG);
        for c in cells {
            let x = l + c.col as f64 * cw;
            let y = b - (c.row as f64 + 1.0) * ch;
            let color = if c.value.is_finite() {
                ramp((c.value - lo) / span)
            } else {
                GRID
            };
            let _ = root.draw(&Rectangle::new(
                [
                    (x as i32, y as i32),
                    ((x + cw) as i32 - 1, (y + ch) as i32 - 1),
                ],
                color.filled(),
            ));
            if hover == Some((c.col, c.row)) {
                let _ = root.draw(&Rectangle::new(
                    [
                        (x as i32, y as i32),
                        ((x + cw) as i32 - 1, (y + ch) as i32 - 1),
                    ],
                    FG.stroke_width(2),
                ));
            }
            if cw > 44.0 && ch > 16.0 && c.value.is_finite() {
                let _ = root.draw(&Text::new(
                    fmt.format(c.value),
                    ((x + 4.0) as i32, (y + ch / 2.0 - 6.0) as i32),
                    font.clone(),
                ));
            }
        }
        let lab = ("sans-serif", 12).into_font().color(&TEXT);
        let step_c = (nc / 12).max(1);
        for (i, s) in cols.iter().enumerate().step_by(step_c) {
            let _ = root.draw(&Text::new(
                s.clone(),
                ((l + (i as f64 + 0.3) * cw) as i32, (b + 8.0) as i32),
                lab.clone(),
            ));
        }
        let step_r = (nr / 12).max(1);
        for (i, s) in rows.iter().enumerate().step_by(step_r) {
            let _ = root.draw(&Text::new(
                s.clone(),
                (MARGIN as i32, (b - (i as f64 + 0.6) * ch) as i32),
                lab.clone(),
            ));
        }
        // Colour scale.
        for k in 0..100 {
            let y = b - (b - t) * k as f64 / 100.0;
            let _ = root.draw(&Rectangle::new(
                [
                    ((r + 20.0) as i32, (y - (b - t) / 100.0) as i32),
                    ((r + 36.0) as i32, y as i32),
                ],
                ramp(k as f64 / 100.0).filled(),
            ));
        }
        let _ = root.draw(&Text::new(
            fmt.format(hi),
            ((r + 40.0) as i32, t as i32),
            lab.clone(),
        ));
        let _ = root.draw(&Text::new(
            fmt.format(lo),
            ((r + 40.0) as i32, (b - 12.0) as i32),
            lab,
        ));
        let _ = root.present();
    }
}
