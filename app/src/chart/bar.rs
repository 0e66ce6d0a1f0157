//! Grouped bars (one group per label, one bar per series), with labels that rotate and thin
//! when crowded and a read-out of the hovered group.

use super::frame::Frame;
use super::{YFormat, BOTTOM, LEFT, MARGIN, WIDTH};
use leptos::html::Canvas;
use leptos::prelude::*;

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
    super::frame::redraw(canvas, move |c| {
        let names = series_names.get();
        let g = groups.get();
        draw::bars(c, &names, &g, y_format, hover.get());
    });
    let on_pointer = Callback::new(move |p: Option<(f64, f64)>| {
        let n = groups.with_untracked(|g| g.len());
        hover.set(p.and_then(|(px, _)| bar_index(WIDTH as f64, n, px)));
    });
    let readout = Signal::derive(move || {
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
    });
    let csv = Callback::new(move |()| {
        series_names.with_untracked(|n| groups.with_untracked(|g| super::csv::bars(n, g)))
    });
    view! { <Frame id title canvas height readout on_pointer csv/> }
}

fn bar_area(width: f64) -> (f64, f64) {
    (MARGIN as f64 + LEFT as f64, width - MARGIN as f64)
}

/// The group under pixel `px`.
fn bar_index(width: f64, n: usize, px: f64) -> Option<usize> {
    let (l, r) = bar_area(width);
    if n == 0 || px < l || px >= r {
        return None;
    }
    Some((((px - l) / (r - l)) * n as f64) as usize).filter(|i| *i < n)
}

/// How a bar chart's group labels fit under the bars.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LabelLayout {
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
fn label_layout(slot_px: f64, max_chars: usize) -> LabelLayout {
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

#[cfg(feature = "hydrate")]
mod draw {
    use super::super::frame::paint::{self, rgb, FG, TEXT};
    use super::super::{YFormat, LEFT, MARGIN};
    use super::BarGroup;
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    pub fn bars(
        canvas: &web_sys::HtmlCanvasElement,
        names: &[String],
        groups: &[BarGroup],
        fmt: YFormat,
        hover: Option<usize>,
    ) {
        let Some(root) = paint::area(canvas) else {
            return;
        };
        let n = groups.len();
        if n == 0 {
            paint::message(&root, "No positions");
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
            .build_cartesian_2d(
                0.0..n as f64,
                crate::chart::ticks::TickedAxis::new(
                    (lo - pad)..(hi + pad),
                    crate::chart::ticks::value_ticks(lo - pad, hi + pad, 6),
                ),
            )
        else {
            return;
        };
        let yfmt = |y: &f64| fmt.format(*y);
        let _ = paint::style_mesh(
            chart
                .configure_mesh()
                .x_labels(0)
                .disable_x_mesh()
                .y_label_formatter(&yfmt),
            12,
        )
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
            let color = super::super::PALETTE[si % super::super::PALETTE.len()];
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
        paint::legend(&mut chart, SeriesLabelPosition::UpperRight);
        let _ = root.present();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
