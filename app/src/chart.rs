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
        }
    }
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
        let css_width = c.client_width().max(1) as f64;
        let px = ev.offset_x() as f64 * c.width() as f64 / css_width;
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
        let css_width = c.client_width().max(1) as f64;
        let px = ev.offset_x() as f64 * c.width() as f64 / css_width;
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
        let sx = c.width() as f64 / c.client_width().max(1) as f64;
        let sy = c.height() as f64 / c.client_height().max(1) as f64;
        heat_index(
            c.width() as f64,
            c.height() as f64,
            cols.with_untracked(|v| v.len()),
            rows.with_untracked(|v| v.len()),
            ev.offset_x() as f64 * sx,
            ev.offset_y() as f64 * sy,
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

    use super::{heat_area, BarGroup, HeatCell, Series, XMap, YFormat, BOTTOM, LEFT, MARGIN};
    use plotters::prelude::*;
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
            x1 = x0 + 1.0;
        }
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        let (y0, y1) = (y0 - pad, y1 + pad);
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(x0..x1, y0..y1)
            .ok()?;
        let xfmt = |x: &f64| Day(x.round() as i32).to_string();
        let yfmt = |y: &f64| fmt.format(if log { y.exp() } else { *y });
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&xfmt)
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
        let Ok(mut chart) = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM + 18)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(0.0..n as f64, (lo - pad)..(hi + pad))
        else {
            return;
        };
        let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
        let xfmt = move |x: &f64| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let yfmt = |y: &f64| fmt.format(*y);
        let _ = chart
            .configure_mesh()
            .x_labels(n * 2 + 1)
            .disable_x_mesh()
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .label_style(("sans-serif", 12).into_font().color(&TEXT))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
            .draw();
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
