//! Stacked bars per day (positive parts up, negative parts down) with a line on a second,
//! zero-aligned axis (the parity page's gap attribution and its running total).

use super::frame::Frame;
use super::{XMap, YFormat};
use leptos::html::Canvas;
use leptos::prelude::*;
use shared::Day;

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
    super::frame::redraw(canvas, move |c| {
        let h = hover.get();
        data.with(|d| {
            if let Some(m) = draw::stacked(c, d, y_format, h, !hide_legend) {
                xmap.set_value(m);
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = hide_legend;

    let on_pointer = Callback::new(move |p: Option<(f64, f64)>| {
        let i = p
            .and_then(|(px, _)| xmap.get_value().day_at(px))
            .and_then(|x| data.with_untracked(|d| nearest_day(&d.days, x)));
        hover.set(i);
    });
    let readout = Signal::derive(move || {
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
    });
    let csv = Callback::new(move |()| data.with_untracked(super::csv::stacked));
    view! { <Frame id title class="chart stacked" canvas height readout on_pointer csv/> }
}

#[cfg(feature = "hydrate")]
mod draw {
    use super::super::frame::paint::{self, rgb, GRID, TEXT};
    use super::super::{ticks, XMap, YFormat, BOTTOM, LEFT, MARGIN};
    use super::StackedData;
    use plotters::prelude::*;

    /// Draws the stacked bars and the line; returns the x mapping for hover.
    pub fn stacked(
        canvas: &web_sys::HtmlCanvasElement,
        data: &StackedData,
        fmt: YFormat,
        hover: Option<usize>,
        legend: bool,
    ) -> Option<XMap> {
        let root = paint::area(canvas)?;
        let (first, last) = match (data.days.first(), data.days.last()) {
            (Some(f), Some(l)) => (f.day.0 as f64, l.day.0 as f64),
            _ => {
                paint::message(&root, "No days to show yet");
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
        // Round dates below, round values on both sides.
        let (step, x_ticks) = ticks::day_axis(first, last, 8);
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(BOTTOM)
            .y_label_area_size(LEFT)
            .right_y_label_area_size(LEFT)
            .build_cartesian_2d(
                ticks::TickedAxis::new(x0..x1, x_ticks.clone()),
                ticks::TickedAxis::new(lo..hi, ticks::value_ticks(lo, hi, 6)),
            )
            .ok()?
            .set_secondary_coord(
                ticks::TickedAxis::new(x0..x1, x_ticks),
                ticks::TickedAxis::new(llo..lhi, ticks::value_ticks(llo, lhi, 6)),
            );
        let yfmt = |y: &f64| fmt.format(*y);
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
        chart
            .configure_secondary_axes()
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
            paint::legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        root.present().ok()?;
        Some(XMap {
            left: l,
            right: r,
            x0,
            x1,
        })
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
}
