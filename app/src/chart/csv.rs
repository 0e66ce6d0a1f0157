//! Every chart's data as CSV (the "CSV" button in each chart's caption): the numbers behind
//! the picture, full precision, one row per day (or group, or cell).

use super::{BarGroup, HeatCell, Series, StackedData};
use std::collections::BTreeMap;

/// A field quoted when it needs to be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// `date,<series…>`: one row per day any series has, empty where a series has no value.
pub fn lines(series: &[Series]) -> String {
    let mut rows: BTreeMap<shared::Day, Vec<Option<f64>>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        for (d, v) in &s.points {
            rows.entry(*d).or_insert_with(|| vec![None; series.len()])[i] = Some(*v);
        }
    }
    let mut out = String::from("date");
    for s in series {
        out.push(',');
        out.push_str(&field(&s.name));
    }
    out.push('\n');
    for (d, vals) in rows {
        out.push_str(&d.to_string());
        for v in vals {
            out.push(',');
            out.push_str(&v.map(num).unwrap_or_default());
        }
        out.push('\n');
    }
    out
}

/// `label,<series…>`: one row per group.
pub fn bars(names: &[String], groups: &[BarGroup]) -> String {
    let mut out = String::from("label");
    for n in names {
        out.push(',');
        out.push_str(&field(n));
    }
    out.push('\n');
    for g in groups {
        out.push_str(&field(&g.label));
        for v in &g.values {
            out.push(',');
            out.push_str(&num(*v));
        }
        out.push('\n');
    }
    out
}

/// `date,<part…>,<line>`: one row per day.
pub fn stacked(d: &StackedData) -> String {
    let mut out = String::from("date");
    for p in &d.parts {
        out.push(',');
        out.push_str(&field(&p.name));
    }
    out.push(',');
    out.push_str(&field(&d.line_name));
    out.push('\n');
    for day in &d.days {
        out.push_str(&day.day.to_string());
        for v in &day.values {
            out.push(',');
            out.push_str(&num(*v));
        }
        out.push(',');
        out.push_str(&num(day.line));
        out.push('\n');
    }
    out
}

/// `column,row,value`: one row per cell.
pub fn heat(cols: &[String], rows: &[String], cells: &[HeatCell]) -> String {
    let mut out = String::from("column,row,value\n");
    for c in cells {
        out.push_str(&format!(
            "{},{},{}\n",
            field(cols.get(c.col).map_or("", String::as_str)),
            field(rows.get(c.row).map_or("", String::as_str)),
            num(c.value)
        ));
    }
    out
}

/// Saves `text` as `name` in the browser: a Blob, an object URL and a click on an anchor made
/// for it (no inline script: the page's CSP forbids them).
#[cfg(feature = "hydrate")]
pub fn download(name: &str, text: &str) {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/csv;charset=utf-8");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(a) = anchor {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Day;

    #[test]
    fn csv_by_hand() {
        let s = vec![
            Series {
                name: "Live".into(),
                color: (0, 0, 0),
                points: vec![(Day(0), 1.0), (Day(1), 1.5)],
            },
            Series {
                name: "Backtest, shadow".into(),
                color: (0, 0, 0),
                points: vec![(Day(1), 2.0)],
            },
        ];
        assert_eq!(
            lines(&s),
            "date,Live,\"Backtest, shadow\"\n1970-01-01,1,\n1970-01-02,1.5,2\n"
        );
        let g = vec![BarGroup {
            label: "BTC".into(),
            values: vec![0.25, f64::NAN],
        }];
        assert_eq!(
            bars(&["a".into(), "b".into()], &g),
            "label,a,b\nBTC,0.25,\n"
        );
        let cells = vec![HeatCell {
            col: 1,
            row: 0,
            value: 0.5,
        }];
        assert_eq!(
            heat(&["x0".into(), "x1".into()], &["y0".into()], &cells),
            "column,row,value\nx1,y0,0.5\n"
        );
    }
}
