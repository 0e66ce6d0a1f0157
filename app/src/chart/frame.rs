//! What every chart shares: the captioned figure with its hover read-out and the canvas, the
//! pointer turned into canvas pixels, redrawing when the data changes, and (in the browser) the
//! plotters set-up, colours and empty-state message.

use super::WIDTH;
use leptos::html::Canvas;
use leptos::prelude::*;

/// Where the pointer is, in the canvas's own pixels: a canvas is drawn at its attribute size and
/// scaled by CSS, so the event's offset is rescaled on each axis.
fn pointer_px(c: &leptos::web_sys::HtmlCanvasElement, ev: &leptos::ev::MouseEvent) -> (f64, f64) {
    let sx = c.width() as f64 / c.client_width().max(1) as f64;
    let sy = c.height() as f64 / c.client_height().max(1) as f64;
    (ev.offset_x() as f64 * sx, ev.offset_y() as f64 * sy)
}

/// A chart's shell: `<figure class id>` with the title and the read-out in its caption and a
/// canvas [`WIDTH`] × `height` pixels. `on_pointer` gets the pointer in canvas pixels while it
/// moves over the canvas and `None` when it leaves; `on_click` the pixel clicked.
#[component]
pub(super) fn Frame(
    id: String,
    title: String,
    #[prop(default = "chart")] class: &'static str,
    canvas: NodeRef<Canvas>,
    height: u32,
    #[prop(into)] readout: Signal<Option<String>>,
    on_pointer: Callback<Option<(f64, f64)>>,
    #[prop(optional)] on_click: Option<Callback<(f64, f64)>>,
    /// The chart's data as CSV, built when the CSV button is pressed.
    csv: Callback<(), String>,
) -> impl IntoView {
    let at = move |ev: &leptos::ev::MouseEvent| canvas.get_untracked().map(|c| pointer_px(&c, ev));
    let file = format!("{id}.csv");
    let save = move |_| {
        let text = csv.run(());
        #[cfg(feature = "hydrate")]
        super::csv::download(&file, &text);
        #[cfg(not(feature = "hydrate"))]
        let _ = (&file, text);
    };
    view! {
        <figure class=class id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="readout">{move || readout.get()}</span>
                <button type="button" class="link chart-csv" title="Download this chart's data as CSV" on:click=save>"CSV"</button>
            </figcaption>
            <canvas
                node_ref=canvas
                width=WIDTH.to_string()
                height=height.to_string()
                on:mousemove=move |ev| {
                    if let Some(p) = at(&ev) {
                        on_pointer.run(Some(p));
                    }
                }
                on:mouseleave=move |_| on_pointer.run(None)
                on:click=move |ev| {
                    if let (Some(f), Some(p)) = (on_click, at(&ev)) {
                        f.run(p);
                    }
                }
            ></canvas>
        </figure>
    }
}

/// Runs `paint` on the canvas once it is in the page and again whenever a signal `paint` reads
/// changes (browser only: the server leaves the canvas empty).
#[cfg(feature = "hydrate")]
pub(super) fn redraw(
    canvas: NodeRef<Canvas>,
    paint: impl Fn(&web_sys::HtmlCanvasElement) + 'static,
) {
    Effect::new(move |_| {
        if let Some(c) = canvas.get() {
            paint(&c);
        }
    });
}

#[cfg(feature = "hydrate")]
pub(super) mod paint {
    //! The plotters set-up every chart starts from.

    use plotters::chart::MeshStyle;
    use plotters::coord::{CoordTranslate, Shift};
    use plotters::prelude::*;
    use plotters_canvas::CanvasBackend;

    pub const BG: RGBColor = RGBColor(23, 29, 36);
    pub const GRID: RGBColor = RGBColor(42, 51, 64);
    pub const TEXT: RGBColor = RGBColor(139, 152, 165);
    pub const FG: RGBColor = RGBColor(230, 237, 243);

    pub type Area = DrawingArea<CanvasBackend, Shift>;

    pub fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
        RGBColor(r, g, b)
    }

    /// The whole canvas, cleared to the background.
    pub fn area(canvas: &web_sys::HtmlCanvasElement) -> Option<Area> {
        let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
        root.fill(&BG).ok()?;
        Some(root)
    }

    /// Says in the top-left corner why there is nothing to draw.
    pub fn message(root: &Area, text: &str) {
        let _ = root.draw(&Text::new(
            text,
            (20, 20),
            ("sans-serif", 16).into_font().color(&TEXT),
        ));
        let _ = root.present();
    }

    /// The grid and axis labels (`size` px) in the charts' colours.
    pub fn style_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged>(
        mesh: &'m mut MeshStyle<'a, 'b, X, Y, CanvasBackend>,
        size: u32,
    ) -> &'m mut MeshStyle<'a, 'b, X, Y, CanvasBackend> {
        mesh.label_style(("sans-serif", size).into_font().color(&TEXT))
            .axis_style(GRID)
            .bold_line_style(GRID)
            .light_line_style(BG)
    }

    /// The series' legend at `position`, in the charts' colours.
    pub fn legend<CT: CoordTranslate>(
        chart: &mut ChartContext<'_, CanvasBackend, CT>,
        position: SeriesLabelPosition,
    ) -> Option<()> {
        chart
            .configure_series_labels()
            .position(position)
            .background_style(BG.mix(0.85))
            .border_style(GRID)
            .label_font(("sans-serif", 13).into_font().color(&FG))
            .draw()
            .ok()
    }
}
