//! Charts: plotters drawing on a `<canvas>` in the browser, with hover read-outs.
//!
//! The server renders an empty canvas of the right size (so the layout does not jump); the
//! hydrated app draws into it and redraws whenever the data or the hovered point changes.

use leptos::html::Canvas;
use leptos::prelude::*;
use shared::Day;

/// One line of a line chart: `(day, value)` points in date order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: (u8, u8, u8),
    pub points: Vec<(Day, f64)>,
}

/// How the y axis and the read-out print values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum YFormat {
    /// `0.1234` → `12.3%`.
    Percent,
    /// Plain numbers with 4 significant digits.
    #[default]
    Number,
    /// US dollars with thousands separators, cents below $10,000, millions above $10M.
    Usd,
}

impl YFormat {
    pub fn format(self, v: f64) -> String {
        match self {
            YFormat::Percent => format!("{:.1}%", v * 100.0),
            YFormat::Number => {
                let a = v.abs();
                if a != 0.0 && !(0.01..10_000.0).contains(&a) {
                    format!("{v:.3e}")
                } else {
                    format!("{v:.4}")
                }
            }
            YFormat::Usd => {
                let a = v.abs();
                // Rounds to "$0.00" without a sign, never "-$0.00".
                let sign = if v < 0.0 && a >= 0.005 { "-" } else { "" };
                if a >= 1e7 {
                    format!("{sign}${:.2}M", a / 1e6)
                } else if a >= 1e4 {
                    format!("{sign}${}", group_thousands(&format!("{a:.0}")))
                } else {
                    format!("{sign}${}", group_thousands(&format!("{a:.2}")))
                }
            }
        }
    }
}

/// `1234567.89` → `1,234,567.89` (digits of a non-negative decimal string).
fn group_thousands(s: &str) -> String {
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Colours that read well on the dark background, in the order series get them.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (79, 163, 255),
    (255, 166, 87),
    (63, 185, 80),
    (248, 81, 73),
    (188, 140, 255),
    (121, 192, 255),
    (210, 153, 34),
    (139, 152, 165),
];

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

/// Where the pointer is, in the canvas's own pixels: a canvas is drawn at its attribute size and
/// scaled by CSS, so the event's offset is rescaled on each axis.
fn pointer_px(c: &leptos::web_sys::HtmlCanvasElement, ev: &leptos::ev::MouseEvent) -> (f64, f64) {
    let sx = c.width() as f64 / c.client_width().max(1) as f64;
    let sy = c.height() as f64 / c.client_height().max(1) as f64;
    (ev.offset_x() as f64 * sx, ev.offset_y() as f64 * sy)
}

/// The value of `s` on or before `day` (series are in date order).
fn value_at(s: &Series, day: f64) -> Option<(Day, f64)> {
    let i = s.points.partition_point(|(d, _)| (d.0 as f64) <= day);
    i.checked_sub(1).map(|i| s.points[i])
}

/// A line chart over dates. `log_scale` plots values on a logarithmic axis (positive values only).
#[component]
pub fn LineChart(
    #[prop(into)] id: String,
    #[prop(into)] title: String,
    #[prop(into)] series: Signal<Vec<Series>>,
    #[prop(optional)] y_format: YFormat,
    #[prop(optional, into)] log_scale: Signal<bool>,
    #[prop(default = 300)] height: u32,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let hover = RwSignal::new(None::<f64>);
    let xmap = StoredValue::new(XMap::default());

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let s = series.get();
        let log = log_scale.get();
        let h = hover.get();
        if let Some(c) = canvas.get() {
            if let Some(m) = draw::lines(&c, &s, y_format, log, h) {
                xmap.set_value(m);
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (xmap, log_scale);

    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let (px, _) = pointer_px(&c, &ev);
        hover.set(xmap.get_value().day_at(px));
    };
    let readout = move || {
        let day = hover.get()?;
        let s = series.get();
        let parts: Vec<String> = s
            .iter()
            .filter_map(|s| {
                value_at(s, day).map(|(_, v)| format!("{} {}", s.name, y_format.format(v)))
            })
            .collect();
        let date = s
            .iter()
            .find_map(|s| value_at(s, day))
            .map(|(d, _)| d.to_string())?;
        Some(format!("{date} · {}", parts.join(" · ")))
    };
    view! {
        <figure class="chart" id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="readout">{readout}</span>
            </figcaption>
            <canvas
                node_ref=canvas
                width="1200"
                height=height.to_string()
                on:mousemove=on_move
                on:mouseleave=move |_| hover.set(None)
            ></canvas>
        </figure>
    }
}

/// One group of a grouped bar chart: a label and one value per series.
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    pub label: String,
    pub values: Vec<f64>,
}

/// Grouped bars (e.g. live vs backtest weight per symbol), with the series named in a legend.
#[component]
pub fn BarChart(
    #[prop(into)] id: String,
    #[prop(into)] title: String,
    #[prop(into)] series_names: Signal<Vec<String>>,
    #[prop(into)] groups: Signal<Vec<BarGroup>>,
    #[prop(optional)] y_format: YFormat,
    #[prop(default = 300)] height: u32,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let hover = RwSignal::new(None::<usize>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let names = series_names.get();
        let g = groups.get();
        if let Some(c) = canvas.get() {
            draw::bars(&c, &names, &g, y_format, hover.get());
        }
    });
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let n = groups.with_untracked(|g| g.len());
        let (px, _) = pointer_px(&c, &ev);
        hover.set(bar_index(c.width() as f64, n, px));
    };
    let readout = move || {
        let i = hover.get()?;
        let names = series_names.get();
        groups.with(|g| {
            g.get(i).map(|g| {
                let vals: Vec<String> = names
                    .iter()
                    .zip(&g.values)
                    .map(|(n, v)| format!("{n} {}", y_format.format(*v)))
                    .collect();
                format!("{} · {}", g.label, vals.join(" · "))
            })
        })
    };
    view! {
        <figure class="chart" id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="readout">{readout}</span>
            </figcaption>
            <canvas
                node_ref=canvas
                width="1200"
                height=height.to_string()
                on:mousemove=on_move
                on:mouseleave=move |_| hover.set(None)
            ></canvas>
        </figure>
    }
}

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
    Effect::new(move |_| {
        let (c_lbl, r_lbl, cl) = (cols.get(), rows.get(), cells.get());
        if let Some(c) = canvas.get() {
            draw::heat(&c, &c_lbl, &r_lbl, &cl, y_format, hover.get());
        }
    });
    let cell_at = move |ev: &leptos::ev::MouseEvent| -> Option<(usize, usize)> {
        let c = canvas.get_untracked()?;
        let (px, py) = pointer_px(&c, ev);
        heat_index(
            c.width() as f64,
            c.height() as f64,
            cols.with_untracked(|v| v.len()),
            rows.with_untracked(|v| v.len()),
            px,
            py,
        )
    };
    let readout = move || {
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
    };
    view! {
        <figure class="chart heatmap" id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="readout">{readout}</span>
            </figcaption>
            <canvas
                node_ref=canvas
                width="1200"
                height=height.to_string()
                on:mousemove=move |ev| hover.set(cell_at(&ev))
                on:mouseleave=move |_| hover.set(None)
                on:click=move |ev| {
                    if let Some(c) = cell_at(&ev) {
                        on_click.run(c);
                    }
                }
            ></canvas>
        </figure>
    }
}

/// One part of a stacked bar chart (e.g. one cause of a gap): its name and colour.
#[derive(Clone, Debug, PartialEq)]
pub struct StackPart {
    pub name: String,
    pub color: (u8, u8, u8),
}

/// One day of a stacked bar chart: one value per part, and the line's value that day.
#[derive(Clone, Debug, PartialEq)]
pub struct StackDay {
    pub day: Day,
    pub values: Vec<f64>,
    pub line: f64,
}

/// What a [`StackedBarChart`] draws: days in date order, the parts of each bar, and a line
/// (e.g. the cumulative total) on its own right-hand axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackedData {
    pub parts: Vec<StackPart>,
    pub line_name: String,
    pub line_color: (u8, u8, u8),
    pub days: Vec<StackDay>,
}

/// Where each value of one bar sits: positive values stack up from zero and negative ones down
/// from zero, in part order, so a bar's parts never overlap and its height above zero minus its
/// depth below is the sum of the values. Non-finite values take no space.
pub fn stack_segments(values: &[f64]) -> Vec<(f64, f64)> {
    let (mut up, mut down) = (0.0f64, 0.0f64);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() || v == 0.0 {
                (0.0, 0.0)
            } else if v > 0.0 {
                let seg = (up, up + v);
                up += v;
                seg
            } else {
                let seg = (down + v, down);
                down += v;
                seg
            }
        })
        .collect()
}

/// The lowest and highest point of any bar (0 included).
pub fn stack_extent(days: &[StackDay]) -> (f64, f64) {
    days.iter()
        .flat_map(|d| stack_segments(&d.values))
        .fold((0.0f64, 0.0f64), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)))
}

/// The bars' range `a` and the line's range `b`, padded, with zero at the same height on both
/// axes (one zero line across the chart). The bars keep their own scale: their range only
/// grows so that zero sits between a quarter and three quarters of the height (a cumulative
/// line of the other sign still has room); the line's range is fitted around that zero.
pub fn zero_aligned(a: (f64, f64), b: (f64, f64)) -> ((f64, f64), (f64, f64)) {
    const PAD: f64 = 0.08;
    // The bars as (depth below zero, height above zero), padded, never both zero.
    let (lo, hi) = (a.0.min(0.0), a.1.max(0.0));
    let span = (hi - lo).max(1e-9);
    let (mut down, mut up) = (-lo + span * PAD, hi + span * PAD);
    // The fraction of the height below zero, kept within [1/4, 3/4].
    let t = (down / (down + up)).clamp(0.25, 0.75);
    if down / (down + up) < t {
        down = t * up / (1.0 - t);
    } else if down / (down + up) > t {
        up = down * (1.0 - t) / t;
    }
    // The line's scale: the smallest total height that holds its data on both sides of zero.
    let (llo, lhi) = (b.0.min(0.0), b.1.max(0.0));
    let lspan = (lhi - llo).max(1e-9);
    let height = (-llo / t).max(lhi / (1.0 - t)).max(lspan) * (1.0 + PAD);
    ((-down, up), (-t * height, (1.0 - t) * height))
}

/// The index of the day nearest to `x` (a fractional day number); days may have gaps, so the
/// nearest one is taken however far it is.
pub fn nearest_day(days: &[StackDay], x: f64) -> Option<usize> {
    let i = days.partition_point(|d| (d.day.0 as f64) < x);
    let mut best: Option<(usize, f64)> = None;
    for j in [i.checked_sub(1), Some(i)].into_iter().flatten() {
        if let Some(d) = days.get(j) {
            let dist = (d.day.0 as f64 - x).abs();
            if best.is_none_or(|(_, b)| dist < b) {
                best = Some((j, dist));
            }
        }
    }
    best.map(|(j, _)| j)
}

/// Stacked bars per day (positive parts up, negative parts down) with a line on a second,
/// zero-aligned axis on the right, a legend and a hover read-out of every part.
#[component]
pub fn StackedBarChart(
    #[prop(into)] id: String,
    #[prop(into)] title: String,
    #[prop(into)] data: Signal<StackedData>,
    #[prop(optional)] y_format: YFormat,
    #[prop(default = 340)] height: u32,
    /// Leave the legend out of the canvas (the page shows one of its own).
    #[prop(optional)]
    hide_legend: bool,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let hover = RwSignal::new(None::<usize>);
    let xmap = StoredValue::new(XMap::default());

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let h = hover.get();
        data.with(|d| {
            if let Some(c) = canvas.get() {
                if let Some(m) = draw::stacked(&c, d, y_format, h, !hide_legend) {
                    xmap.set_value(m);
                }
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (xmap, hide_legend);

    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let (px, _) = pointer_px(&c, &ev);
        let i = xmap
            .get_value()
            .day_at(px)
            .and_then(|x| data.with_untracked(|d| nearest_day(&d.days, x)));
        hover.set(i);
    };
    let readout = move || {
        let i = hover.get()?;
        data.with(|d| {
            let day = d.days.get(i)?;
            let mut parts: Vec<String> = d
                .parts
                .iter()
                .zip(&day.values)
                .filter(|(_, v)| **v != 0.0)
                .map(|(p, v)| format!("{} {}", p.name, y_format.format(*v)))
                .collect();
            if parts.is_empty() {
                parts.push("no gap".into());
            }
            let total: f64 = day.values.iter().filter(|v| v.is_finite()).sum();
            Some(format!(
                "{} · {} · day {} · {} {}",
                day.day,
                parts.join(" · "),
                y_format.format(total),
                d.line_name,
                y_format.format(day.line)
            ))
        })
    };
    view! {
        <figure class="chart stacked" id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="readout">{readout}</span>
            </figcaption>
            <canvas
                node_ref=canvas
                width="1200"
                height=height.to_string()
                on:mousemove=on_move
                on:mouseleave=move |_| hover.set(None)
            ></canvas>
        </figure>
    }
}

// Layout shared by drawing (browser) and hit-testing (event handlers, compiled everywhere).
const LEFT: u32 = 70;
const BOTTOM: u32 = 32;
const MARGIN: u32 = 12;

pub(crate) fn bar_area(width: f64) -> (f64, f64) {
    (MARGIN as f64 + LEFT as f64, width - MARGIN as f64)
}

/// The group under pixel `px`.
pub(crate) fn bar_index(width: f64, n: usize, px: f64) -> Option<usize> {
    let (l, r) = bar_area(width);
    if n == 0 || px < l || px >= r {
        return None;
    }
    Some((((px - l) / (r - l)) * n as f64) as usize).filter(|i| *i < n)
}

/// How a bar chart's group labels fit under the bars.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LabelLayout {
    /// Rotated to read upwards (the widest label does not fit its group's width).
    pub rotated: bool,
    /// Every `step`-th label is drawn (1 = all).
    pub step: usize,
    /// Height of the label area below the axis (pixels).
    pub height: u32,
}

/// Lays out labels of at most `max_chars` characters (12 px sans, about 7 px each) under
/// groups `slot_px` wide: horizontal when they fit, else rotated, and thinned so rotated
/// labels (about 15 px a line) never touch.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn label_layout(slot_px: f64, max_chars: usize) -> LabelLayout {
    const CHAR_PX: f64 = 7.0;
    const LINE_PX: f64 = 15.0;
    let text = max_chars as f64 * CHAR_PX;
    if text + 6.0 <= slot_px {
        return LabelLayout {
            rotated: false,
            step: 1,
            height: BOTTOM,
        };
    }
    LabelLayout {
        rotated: true,
        step: (LINE_PX / slot_px.max(1e-9)).ceil().max(1.0) as usize,
        height: (text as u32 + 14).max(BOTTOM),
    }
}

pub(crate) fn heat_area(width: f64, height: f64) -> (f64, f64, f64, f64) {
    (
        MARGIN as f64 + LEFT as f64,
        width - MARGIN as f64 - 90.0,
        MARGIN as f64,
        height - MARGIN as f64 - BOTTOM as f64,
    )
}

/// The cell under pixel `(px, py)`; rows are drawn bottom-up.
pub(crate) fn heat_index(
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
    //! The plotters code, browser only.

    use super::{
        heat_area, BarGroup, HeatCell, Series, StackedData, XMap, YFormat, BOTTOM, LEFT, MARGIN,
    };
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    use plotters_canvas::CanvasBackend;
    use shared::Day;

    const BG: RGBColor = RGBColor(23, 29, 36);
    const GRID: RGBColor = RGBColor(42, 51, 64);
    const TEXT: RGBColor = RGBColor(139, 152, 165);
    const FG: RGBColor = RGBColor(230, 237, 243);

    fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
        RGBColor(r, g, b)
    }

    /// Draws the series; returns the x mapping for hover, or `None` when there is nothing to draw.
    pub fn lines(
        canvas: &web_sys::HtmlCanvasElement,
        series: &[Series],
        fmt: YFormat,
        log: bool,
        hover: Option<f64>,
    ) -> Option<XMap> {
        let backend = CanvasBackend::with_canvas_object(canvas.clone())?;
        let root = backend.into_drawing_area();
        root.fill(&BG).ok()?;
        let tf = |v: f64| if log { v.ln() } else { v };
        let pts = series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(_, v)| v.is_finite() && (!log || *v > 0.0));
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (d, v) in pts {
            x0 = x0.min(d.0 as f64);
            x1 = x1.max(d.0 as f64);
            y0 = y0.min(tf(*v));
            y1 = y1.max(tf(*v));
        }
        if x0 > x1 {
            root.draw(&Text::new(
                "No data",
                (20, 20),
                ("sans-serif", 16).into_font().color(&TEXT),
            ))
            .ok()?;
            root.present().ok()?;
            return None;
        }
        if x1 == x0 {
            // One day: centre it (its date is the only whole-day tick).
            x0 -= 0.5;
            x1 += 0.5;
        }
        // A flat series still gets a readable range (±0.5% of its level).
        let pad = ((y1 - y0) * 0.05)
            .max(y0.abs().max(y1.abs()) * 0.005)
            .max(1e-9);
        let (y0, y1) = (y0 - pad, y1 + pad);
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(x0..x1, y0..y1)
            .ok()?;
        let yfmt = |y: &f64| fmt.format(if log { y.exp() } else { *y });
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&day_label)
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 13).into_font().color(&TEXT))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
            .draw()
            .ok()?;
        for s in series {
            let color = rgb(s.color);
            chart
                .draw_series(LineSeries::new(
                    s.points
                        .iter()
                        .filter(|(_, v)| v.is_finite() && (!log || *v > 0.0))
                        .map(|(d, v)| (d.0 as f64, tf(*v))),
                    color.stroke_width(2),
                ))
                .ok()?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
                });
            // A single point draws no line: mark it.
            if let [(d, v)] = s.points.as_slice() {
                if v.is_finite() && (!log || *v > 0.0) {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (d.0 as f64, tf(*v)),
                            4,
                            color.filled(),
                        )))
                        .ok()?;
                }
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(BG.mix(0.85))
                .border_style(GRID)
                .label_font(("sans-serif", 13).into_font().color(&FG))
                .draw()
                .ok()?;
        }
        if let Some(h) = hover.filter(|h| (x0..=x1).contains(h)) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(h, y0), (h, y1)],
                    TEXT.stroke_width(1),
                )))
                .ok()?;
        }
        let ((left, _), (right, _)) = {
            let r = chart.plotting_area().get_pixel_range();
            ((r.0.start as f64, 0), (r.0.end as f64, 0))
        };
        root.present().ok()?;
        Some(XMap {
            left,
            right,
            x0,
            x1,
        })
    }

    pub fn bars(
        canvas: &web_sys::HtmlCanvasElement,
        names: &[String],
        groups: &[BarGroup],
        fmt: YFormat,
        hover: Option<usize>,
    ) {
        let Some(backend) = CanvasBackend::with_canvas_object(canvas.clone()) else {
            return;
        };
        let root = backend.into_drawing_area();
        let _ = root.fill(&BG);
        let n = groups.len();
        if n == 0 {
            let _ = root.draw(&Text::new(
                "No positions",
                (20, 20),
                ("sans-serif", 16).into_font().color(&TEXT),
            ));
            let _ = root.present();
            return;
        }
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in groups
            .iter()
            .flat_map(|g| g.values.iter())
            .filter(|v| v.is_finite())
        {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        let pad = ((hi - lo) * 0.08).max(1e-6);
        let (l, r) = super::bar_area(canvas.width() as f64);
        let max_chars = groups
            .iter()
            .map(|g| g.label.chars().count())
            .max()
            .unwrap_or(0);
        let layout = super::label_layout((r - l) / n as f64, max_chars);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(layout.height)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(0.0..n as f64, (lo - pad)..(hi + pad))
        else {
            return;
        };
        let yfmt = |y: &f64| fmt.format(*y);
        let _ = chart
            .configure_mesh()
            .x_labels(0)
            .disable_x_mesh()
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 12).into_font().color(&TEXT))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
            .draw();
        // Group labels drawn by hand: centred under their group, rotated and thinned when they
        // would overlap (the hover read-out names every group).
        let font = ("sans-serif", 12).into_font().color(&TEXT);
        let font = if layout.rotated {
            font.transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            font.pos(Pos::new(HPos::Center, VPos::Top))
        };
        for (i, g) in groups.iter().enumerate().step_by(layout.step) {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo - pad));
            let style = if hover == Some(i) {
                font.color(&FG)
            } else {
                font.clone()
            };
            let _ = root.draw(&Text::new(g.label.clone(), (x, y + 6), style));
        }
        let k = names.len().max(1) as f64;
        for (si, name) in names.iter().enumerate() {
            let color = super::PALETTE[si % super::PALETTE.len()];
            let c = rgb(color);
            let rects = groups.iter().enumerate().filter_map(move |(gi, g)| {
                let v = *g.values.get(si)?;
                let x = gi as f64 + 0.1 + 0.8 * si as f64 / k;
                let style = if hover == Some(gi) {
                    c.filled()
                } else {
                    c.mix(0.8).filled()
                };
                Some(Rectangle::new([(x, 0.0), (x + 0.8 / k, v)], style))
            });
            if let Ok(ann) = chart.draw_series(rects) {
                ann.label(name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                });
            }
        }
        let _ = chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(BG.mix(0.85))
            .border_style(GRID)
            .label_font(("sans-serif", 13).into_font().color(&FG))
            .draw();
        let _ = root.present();
    }

    /// Labels a date axis only at whole days (short ranges would repeat a date otherwise).
    fn day_label(x: &f64) -> String {
        if (x - x.round()).abs() < 0.01 {
            Day(x.round() as i32).to_string()
        } else {
            String::new()
        }
    }

    /// Draws the stacked bars and the line; returns the x mapping for hover.
    pub fn stacked(
        canvas: &web_sys::HtmlCanvasElement,
        data: &StackedData,
        fmt: YFormat,
        hover: Option<usize>,
        legend: bool,
    ) -> Option<XMap> {
        let backend = CanvasBackend::with_canvas_object(canvas.clone())?;
        let root = backend.into_drawing_area();
        root.fill(&BG).ok()?;
        let (first, last) = match (data.days.first(), data.days.last()) {
            (Some(f), Some(l)) => (f.day.0 as f64, l.day.0 as f64),
            _ => {
                root.draw(&Text::new(
                    "No days to show yet",
                    (20, 20),
                    ("sans-serif", 16).into_font().color(&TEXT),
                ))
                .ok()?;
                root.present().ok()?;
                return None;
            }
        };
        let (x0, x1) = (first - 0.6, last + 0.6);
        let line_range = data
            .days
            .iter()
            .map(|d| d.line)
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let ((lo, hi), (llo, lhi)) =
            super::zero_aligned(super::stack_extent(&data.days), line_range);
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .right_y_label_area_size(LEFT)
            .build_cartesian_2d(x0..x1, lo..hi)
            .ok()?
            .set_secondary_coord(x0..x1, llo..lhi);
        let yfmt = |y: &f64| fmt.format(*y);
        let n_days = (last - first) as usize + 1;
        chart
            .configure_mesh()
            .x_labels(n_days.clamp(2, 8))
            .y_labels(6)
            .x_label_formatter(&day_label)
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 13).into_font().color(&TEXT))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
            .draw()
            .ok()?;
        chart
            .configure_secondary_axes()
            .y_labels(6)
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 13).into_font().color(&rgb(data.line_color)))
            .axis_style(GRID)
            .draw()
            .ok()?;
        // Bars 0.8 day wide with a gap; touching when days are only a few pixels wide.
        let (l, r) = {
            let px = chart.plotting_area().get_pixel_range();
            (px.0.start as f64, px.0.end as f64)
        };
        let px_per_day = (r - l) / (x1 - x0);
        let half = if px_per_day < 4.0 { 0.5 } else { 0.4 };
        if let Some(i) = hover {
            if let Some(d) = data.days.get(i) {
                let x = d.day.0 as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.5, lo), (x + 0.5, hi)],
                        GRID.mix(0.6).filled(),
                    )))
                    .ok()?;
            }
        }
        let segments: Vec<Vec<(f64, f64)>> = data
            .days
            .iter()
            .map(|d| super::stack_segments(&d.values))
            .collect();
        for (k, part) in data.parts.iter().enumerate() {
            let c = rgb(part.color);
            let rects = data.days.iter().zip(&segments).filter_map(|(d, seg)| {
                let (a, b) = *seg.get(k)?;
                if a == b {
                    return None;
                }
                let x = d.day.0 as f64;
                Some(Rectangle::new(
                    [(x - half, a), (x + half, b)],
                    c.mix(0.9).filled(),
                ))
            });
            chart
                .draw_series(rects)
                .ok()?
                .label(part.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, 0.0), (x1, 0.0)],
                TEXT.stroke_width(1),
            )))
            .ok()?;
        let lc = rgb(data.line_color);
        chart
            .draw_secondary_series(LineSeries::new(
                data.days
                    .iter()
                    .filter(|d| d.line.is_finite())
                    .map(|d| (d.day.0 as f64, d.line)),
                lc.stroke_width(2),
            ))
            .ok()?
            .label(data.line_name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], lc.stroke_width(3)));
        // Markers when the days are few enough to tell apart (a single day has no line at all).
        if data.days.len() <= 60 {
            chart
                .draw_secondary_series(
                    data.days
                        .iter()
                        .filter(|d| d.line.is_finite())
                        .map(|d| Circle::new((d.day.0 as f64, d.line), 3, lc.filled())),
                )
                .ok()?;
        }
        if legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(BG.mix(0.85))
                .border_style(GRID)
                .label_font(("sans-serif", 13).into_font().color(&FG))
                .draw()
                .ok()?;
        }
        root.present().ok()?;
        Some(XMap {
            left: l,
            right: r,
            x0,
            x1,
        })
    }

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
        let Some(backend) = CanvasBackend::with_canvas_object(canvas.clone()) else {
            return;
        };
        let root = backend.into_drawing_area();
        let _ = root.fill(&BG);
        let (w, h) = (canvas.width() as f64, canvas.height() as f64);
        let (l, r, t, b) = heat_area(w, h);
        let (nc, nr) = (cols.len(), rows.len().max(1));
        if nc == 0 || cells.is_empty() {
            let _ = root.draw(&Text::new(
                "Run a sweep to see the heat map",
                (20, 20),
                ("sans-serif", 16).into_font().color(&TEXT),
            ));
            let _ = root.present();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i32, values: &[f64]) -> StackDay {
        StackDay {
            day: Day(d),
            values: values.to_vec(),
            line: 0.0,
        }
    }

    #[test]
    fn positive_parts_stack_up_and_negative_parts_down() {
        let seg = stack_segments(&[2.0, -1.0, 3.0, 0.0, -4.0, f64::NAN]);
        assert_eq!(
            seg,
            vec![
                (0.0, 2.0),
                (-1.0, 0.0),
                (2.0, 5.0),
                (0.0, 0.0),
                (-5.0, -1.0),
                (0.0, 0.0)
            ]
        );
        // The top of the stack minus the depth of the bottom is the bar's total.
        let top = seg.iter().map(|s| s.1).fold(0.0, f64::max);
        let bottom = seg.iter().map(|s| s.0).fold(0.0, f64::min);
        assert_eq!(top + bottom, 2.0 - 1.0 + 3.0 - 4.0);
        assert_eq!(
            stack_extent(&[day(1, &[2.0, -1.0]), day(2, &[-3.0, 0.5])]),
            (-3.0, 2.0)
        );
    }

    fn zero_height((lo, hi): (f64, f64)) -> f64 {
        -lo / (hi - lo)
    }

    #[test]
    fn both_axes_put_zero_at_the_same_height() {
        let ((lo, hi), (llo, lhi)) = zero_aligned((-1.0, 4.0), (-10.0, 10.0));
        assert!((zero_height((lo, hi)) - zero_height((llo, lhi))).abs() < 1e-12);
        assert!(lo <= -1.0 && hi >= 4.0 && llo <= -10.0 && lhi >= 10.0);
        // The bars keep their scale (only padding and the quarter rule): here 5 → 5.8 + room.
        assert!(hi < 4.0 * 1.2 && lo > -1.6, "{lo}..{hi}");
        // Small bars above zero, a large negative running total: zero at a quarter of the
        // height, the bars' top unchanged, the line fits below.
        let (bars, line) = zero_aligned((0.0, 3.0), (-300.0, 0.0));
        assert!((zero_height(bars) - 0.25).abs() < 1e-12);
        assert!((zero_height(line) - 0.25).abs() < 1e-12);
        assert!((bars.1 - 3.0 * 1.08).abs() < 1e-9 && line.0 <= -300.0);
        // All zero: non-empty ranges, no NaN.
        let ((lo, hi), (llo, lhi)) = zero_aligned((0.0, 0.0), (0.0, 0.0));
        assert!(lo < hi && llo < lhi && [lo, hi, llo, lhi].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn the_nearest_day_is_found_across_gaps() {
        let days = [day(10, &[]), day(11, &[]), day(20, &[])];
        assert_eq!(nearest_day(&days, 9.0), Some(0));
        assert_eq!(nearest_day(&days, 10.4), Some(0));
        assert_eq!(nearest_day(&days, 10.6), Some(1));
        assert_eq!(nearest_day(&days, 16.0), Some(2));
        assert_eq!(nearest_day(&days, 99.0), Some(2));
        assert_eq!(nearest_day(&[], 1.0), None);
    }

    #[test]
    fn bar_labels_rotate_and_thin_when_they_do_not_fit() {
        // 8 symbols on a 1100 px axis: 137 px each, "BTC" fits.
        let l = label_layout(137.0, 4);
        assert!(!l.rotated && l.step == 1);
        // 60 symbols: 18 px each; 8-character labels rotate, one per slot still fits.
        let l = label_layout(18.0, 8);
        assert!(l.rotated && l.step == 1 && l.height >= 8 * 7);
        // 200 symbols: 5.5 px each; every third label.
        let l = label_layout(5.5, 8);
        assert!(l.rotated && l.step == 3);
    }

    #[test]
    fn dollars_print_compactly() {
        assert_eq!(YFormat::Usd.format(12.345), "$12.35");
        assert_eq!(YFormat::Usd.format(-1_234.5), "-$1,234.50");
        assert_eq!(YFormat::Usd.format(-12_345.4), "-$12,345");
        assert_eq!(YFormat::Usd.format(2_500_000.0), "$2,500,000");
        assert_eq!(YFormat::Usd.format(25_000_000.0), "$25.00M");
        assert_eq!(YFormat::Usd.format(-0.001), "$0.00");
        assert_eq!(YFormat::Usd.format(999.0), "$999.00");
    }
}
