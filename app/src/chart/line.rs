//! The line chart over dates (equity, drawdown, contributions, weights), with a log scale and a
//! read-out of every series at the hovered day.

use super::frame::Frame;
use super::{XMap, YFormat};
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
    super::frame::redraw(canvas, move |c| {
        let s = series.get();
        if let Some(m) = draw::lines(c, &s, y_format, log_scale.get(), hover.get()) {
            xmap.set_value(m);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = log_scale;

    let on_pointer = Callback::new(move |p: Option<(f64, f64)>| {
        hover.set(p.and_then(|(px, _)| xmap.get_value().day_at(px)));
    });
    let readout = Signal::derive(move || {
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
    });
    let csv = Callback::new(move |()| series.with_untracked(|s| super::csv::lines(s)));
    view! { <Frame id title canvas height readout on_pointer csv/> }
}

#[cfg(feature = "hydrate")]
mod draw {
    use super::super::frame::paint::{self, rgb, TEXT};
    use super::super::{ticks, XMap, YFormat, BOTTOM, LEFT, MARGIN};
    use super::Series;
    use plotters::prelude::*;

    /// Draws the series; returns the x mapping for hover, or `None` when there is nothing to draw.
    pub fn lines(
        canvas: &web_sys::HtmlCanvasElement,
        series: &[Series],
        fmt: YFormat,
        log: bool,
        hover: Option<f64>,
    ) -> Option<XMap> {
        let root = paint::area(canvas)?;
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
            paint::message(&root, "No data");
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
        // Round dates and round values (on a log axis, round values of the level itself).
        let (step, x_ticks) = ticks::day_axis(x0, x1, 8);
        let y_ticks = if log {
            ticks::value_ticks(y0.exp(), y1.exp(), 6)
                .into_iter()
                .map(f64::ln)
                .collect()
        } else {
            ticks::value_ticks(y0, y1, 6)
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .build_cartesian_2d(
                ticks::TickedAxis::new(x0..x1, x_ticks),
                ticks::TickedAxis::new(y0..y1, y_ticks),
            )
            .ok()?;
        let yfmt = |y: &f64| fmt.format(if log { y.exp() } else { *y });
        let xfmt = |x: &f64| ticks::day_label(step, *x);
        paint::style_mesh(
            chart
                .configure_mesh()
                .x_label_formatter(&xfmt)
                .y_label_formatter(&yfmt),
            13,
        )
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
            paint::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
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
}
