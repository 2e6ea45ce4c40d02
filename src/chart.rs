//! Charts as inline SVG, drawn from numbers alone: pure functions with no
//! I/O, so the same rows always give the same bytes.
//!
//! Why by hand and not a charting crate: the dashboard must read without
//! JavaScript and load nothing from the internet, and the Rust crates
//! measured for it either need a web font served beside them, hide hover
//! values of stacked bars, or give no title for screen readers. These four
//! shapes (lines, stacked bars, horizontal bars, a donut) are a few hundred
//! lines. Every mark carries a `<title>` (the browser's own hover value),
//! and every chart a `<title>`/`<desc>` pair for screen readers.

use std::fmt::Write;

/// The palette, in this order: every colour reaches 3:1 against the light
/// and the dark panel (WCAG's contrast for graphics), no red sits beside a
/// green, and neighbours differ in hue.
const PALETTE: [&str; 10] = [
    "#2563eb", "#d97706", "#0d9488", "#c026d3", "#65a30d", "#7c3aed", "#ea580c", "#0891b2",
    "#db2777", "#64748b",
];

/// The colour of the `i`th series or slice.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for SVG (XML) content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as people read it: `12,345`, or `1.5` when not whole.
pub fn number(v: f64) -> String {
    if v.fract() != 0.0 {
        return format!("{v:.2}");
    }
    let digits = format!("{}", v.abs() as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Values by category (the x axis), one or more series.
pub struct SeriesChart<'a> {
    /// Unique on the page: the SVG's element ids derive from it.
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Axis labels; a `\n` starts a second, smaller line.
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// The last category covers only part of its period (the month of the
    /// report's instant, still running): drawn dashed or hatched.
    pub partial_last: bool,
}

const W: f64 = 640.0;
const H: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 58.0;

/// A round top for the y axis and its step: 1, 2 or 5 times a power of ten.
fn axis(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (4.0, 1.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
        .max(1.0);
    ((max / step).ceil() * step, step)
}

fn open_svg(out: &mut String, id: &str, title: &str, desc: &str, height: f64) {
    let id = esc(id);
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

/// The frame of a category chart: grid lines, y ticks, axis titles and the
/// category labels. Returns the y scale's top.
fn frame(out: &mut String, c: &SeriesChart<'_>, max: f64) -> f64 {
    let (top, step) = axis(max);
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = TOP + plot_h - v / top * plot_h;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(v)
        );
        v += step;
    }
    let band = (W - LEFT - RIGHT) / c.categories.len().max(1) as f64;
    // Thin the labels when they would overlap (many categories).
    let every = ((46.0 / band).ceil() as usize).max(1);
    for (i, label) in c.categories.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let x = LEFT + band * (i as f64 + 0.5);
        let mut lines = label.split('\n');
        let first = lines.next().unwrap_or("");
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}"#,
            H - BOTTOM + 16.0,
            esc(first)
        );
        for line in lines {
            let _ = write!(out, r#"<tspan x="{x:.1}" dy="13">{}</tspan>"#, esc(line));
        }
        out.push_str("</text>");
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="{}" text-anchor="middle">{}</text><text class="axis-title" transform="rotate(-90)" x="{:.1}" y="14" text-anchor="middle">{}</text>"#,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 6.0,
        esc(c.x_label),
        -(TOP + plot_h / 2.0),
        esc(c.y_label)
    );
    top
}

fn describe(c: &SeriesChart<'_>) -> String {
    let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
    format!(
        "{} by {}, {} categories: {}",
        c.y_label,
        c.x_label,
        c.categories.len(),
        names.join(", ")
    )
}

fn hover(series: &str, category: &str, value: f64) -> String {
    let category = category.replace('\n', " ");
    if series.is_empty() {
        format!("{category}: {}", number(value))
    } else {
        format!("{series}, {category}: {}", number(value))
    }
}

/// Lines, one per series, with a dot and a hover value at every category.
pub fn line(c: &SeriesChart<'_>) -> String {
    let mut out = String::new();
    open_svg(&mut out, c.id, c.title, &describe(c), H);
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let top = frame(&mut out, c, max);
    let plot_h = H - TOP - BOTTOM;
    let band = (W - LEFT - RIGHT) / c.categories.len().max(1) as f64;
    for (si, s) in c.series.iter().enumerate() {
        let points: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    LEFT + band * (i as f64 + 0.5),
                    TOP + plot_h - v.max(0.0) / top * plot_h,
                )
            })
            .collect();
        let path = |points: &[(f64, f64)]| -> String {
            let xy: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            xy.join(" ")
        };
        // A partial last month is a dashed segment: it is not comparable
        // with the complete months before it.
        let solid_end = if c.partial_last && points.len() > 1 {
            points.len() - 1
        } else {
            points.len()
        };
        let _ = write!(
            out,
            r#"<polyline class="line" fill="none" stroke="{}" points="{}"/>"#,
            color(si),
            path(&points[..solid_end])
        );
        if solid_end < points.len() {
            let _ = write!(
                out,
                r#"<polyline class="line partial" fill="none" stroke="{}" stroke-dasharray="5 4" points="{}"/>"#,
                color(si),
                path(&points[solid_end - 1..])
            );
        }
        let last = points.len().saturating_sub(1);
        for (i, ((x, y), (v, category))) in points
            .iter()
            .zip(s.values.iter().zip(&c.categories))
            .enumerate()
        {
            let partial = c.partial_last && i == last;
            let _ = write!(
                out,
                r#"<circle class="dot{}" cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{}" stroke="{}"><title>{}</title></circle>"#,
                if partial { " partial" } else { "" },
                if partial { "#fff" } else { color(si) },
                color(si),
                esc(&hover(&s.name, category, *v))
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Bars, stacked when there are several series (in the order given, the
/// first at the bottom).
pub fn stacked_bars(c: &SeriesChart<'_>) -> String {
    let mut out = String::new();
    open_svg(&mut out, c.id, c.title, &describe(c), H);
    let totals: Vec<f64> = (0..c.categories.len())
        .map(|i| {
            c.series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0))
                .sum()
        })
        .collect();
    let top = frame(&mut out, c, totals.iter().copied().fold(0.0, f64::max));
    let plot_h = H - TOP - BOTTOM;
    let band = (W - LEFT - RIGHT) / c.categories.len().max(1) as f64;
    let width = (band * 0.64).max(1.0);
    if c.partial_last {
        // Hatching in each series' colour for the partial last month.
        out.push_str("<defs>");
        for si in 0..c.series.len() {
            let _ = write!(
                out,
                r#"<pattern id="{}-hatch{si}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="{}" fill-opacity="0.3"/><rect width="3" height="6" fill="{}"/></pattern>"#,
                esc(c.id),
                color(si),
                color(si)
            );
        }
        out.push_str("</defs>");
    }
    let last = c.categories.len().saturating_sub(1);
    for (i, category) in c.categories.iter().enumerate() {
        let x = LEFT + band * i as f64 + (band - width) / 2.0;
        let mut base = 0.0;
        let partial = c.partial_last && i == last;
        for (si, s) in c.series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
            if v == 0.0 {
                continue;
            }
            let y0 = TOP + plot_h - base / top * plot_h;
            let y1 = TOP + plot_h - (base + v) / top * plot_h;
            let fill = if partial {
                format!("url(#{}-hatch{si})", esc(c.id))
            } else {
                color(si).to_owned()
            };
            let _ = write!(
                out,
                r#"<rect class="bar{}" x="{x:.1}" y="{y1:.1}" width="{width:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect>"#,
                if partial { " partial" } else { "" },
                (y0 - y1).max(0.5),
                esc(&hover(&s.name, category, v))
            );
            base += v;
        }
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per labelled value, largest first as given.
pub fn horizontal_bars(
    id: &str,
    title: &str,
    value_label: &str,
    items: &[(String, f64)],
) -> String {
    const ROW: f64 = 30.0;
    const LABEL_W: f64 = 200.0;
    let height = TOP + ROW * items.len().max(1) as f64 + 34.0;
    let mut out = String::new();
    let desc = format!("{value_label} of {} items", items.len());
    open_svg(&mut out, id, title, &desc, height);
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let (top, step) = axis(max);
    let plot_w = W - LABEL_W - RIGHT - 56.0;
    // The value axis: a grid line and a tick at each step, under the bars.
    let bottom = TOP + ROW * items.len().max(1) as f64;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let x = LABEL_W + v / top * plot_w;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 12.0,
            number(v)
        );
        v += step;
    }
    for (i, (label, v)) in items.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let shown: String = if label.chars().count() > 30 {
            label.chars().take(29).chain(std::iter::once('…')).collect()
        } else {
            label.clone()
        };
        let w = (v.max(0.0) / top * plot_w).max(1.0);
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}<title>{}</title></text><rect class="bar" x="{LABEL_W}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}</title></rect><text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            LABEL_W - 8.0,
            y + ROW * 0.62,
            esc(&shown),
            esc(label),
            y + ROW * 0.15,
            ROW * 0.7,
            color(0),
            esc(&hover("", label, *v)),
            LABEL_W + w + 6.0,
            y + ROW * 0.62,
            number(*v)
        );
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
        LABEL_W + plot_w / 2.0,
        height - 8.0,
        esc(value_label)
    );
    out
}

/// A donut: each slice's share of the whole, largest first as given.
pub fn donut(id: &str, title: &str, slices: &[(String, f64)]) -> String {
    const SIZE: f64 = 240.0;
    let (cx, cy, r, hole) = (SIZE / 2.0, SIZE / 2.0, SIZE / 2.0 - 6.0, SIZE * 0.26);
    let total: f64 = slices.iter().map(|(_, v)| v.max(0.0)).sum();
    let mut out = String::new();
    let id_esc = esc(id);
    let _ = write!(
        out,
        r#"<svg class="chart donut" viewBox="0 0 {SIZE} {SIZE}" role="img" aria-labelledby="{id_esc}-t {id_esc}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id_esc}-t">{}</title><desc id="{id_esc}-d">{} slices, {} in all</desc>"#,
        esc(title),
        slices.len(),
        number(total)
    );
    let mut angle = -std::f64::consts::FRAC_PI_2;
    for (i, (label, v)) in slices.iter().enumerate() {
        let v = v.max(0.0);
        if v == 0.0 || total == 0.0 {
            continue;
        }
        let share = v / total;
        let hover = format!("{label}: {} ({:.1}%)", number(v), share * 100.0);
        if share >= 0.9999 {
            let _ = write!(
                out,
                r#"<circle cx="{cx}" cy="{cy}" r="{:.1}" fill="none" stroke="{}" stroke-width="{:.1}"><title>{}</title></circle>"#,
                (r + hole) / 2.0,
                color(i),
                r - hole,
                esc(&hover)
            );
            continue;
        }
        let end = angle + share * std::f64::consts::TAU;
        let large = if share > 0.5 { 1 } else { 0 };
        let (x0, y0) = (cx + r * angle.cos(), cy + r * angle.sin());
        let (x1, y1) = (cx + r * end.cos(), cy + r * end.sin());
        let (x2, y2) = (cx + hole * end.cos(), cy + hole * end.sin());
        let (x3, y3) = (cx + hole * angle.cos(), cy + hole * angle.sin());
        let _ = write!(
            out,
            r#"<path class="slice" d="M{x0:.2},{y0:.2} A{r},{r} 0 {large} 1 {x1:.2},{y1:.2} L{x2:.2},{y2:.2} A{hole},{hole} 0 {large} 0 {x3:.2},{y3:.2} Z" fill="{}"><title>{}</title></path>"#,
            color(i),
            esc(&hover)
        );
        angle = end;
    }
    let _ = write!(
        out,
        r#"<text class="donut-total" x="{cx}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
        cy + 6.0,
        number(total)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: Vec<f64>) -> SeriesChart<'static> {
        SeriesChart {
            id: "t",
            title: "Runs <by> org",
            x_label: "Month",
            y_label: "Runs",
            categories: vec!["Nov\n2025".into(), "Dec".into()],
            series: vec![Series {
                name: "acme-eu".into(),
                values,
            }],
            partial_last: false,
        }
    }

    /// WCAG relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn every_colour_reads_on_the_light_and_the_dark_panel() {
        // The panels of uptake.css, light and dark.
        for panel in ["#ffffff", "#111827"] {
            for colour in PALETTE {
                let ratio = contrast(colour, panel);
                assert!(ratio >= 3.0, "{colour} on {panel}: {ratio:.2}");
            }
        }
    }

    #[test]
    fn horizontal_bars_have_a_value_axis() {
        let svg = horizontal_bars(
            "h",
            "Top",
            "Runs",
            &[("a".into(), 93.0), ("b".into(), 40.0)],
        );
        // 0, 50 and 100: the axis of a maximum of 93.
        for tick in [">0</text>", ">50</text>", ">100</text>"] {
            assert!(svg.contains(tick), "{tick} in {svg}");
        }
        assert_eq!(svg.matches(r#"<line class="grid""#).count(), 3);
    }

    #[test]
    fn a_partial_last_month_is_dashed_or_hatched() {
        let mut c = chart(vec![10.0, 3.0]);
        assert!(!line(&c).contains("stroke-dasharray"));
        assert!(!stacked_bars(&c).contains("hatch"));
        c.partial_last = true;
        let svg = line(&c);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert_eq!(svg.matches(r#"class="dot partial""#).count(), 1);
        let bars = stacked_bars(&c);
        assert!(bars.contains(r#"<pattern id="t-hatch0""#));
        assert_eq!(bars.matches(r#"fill="url(#t-hatch0)""#).count(), 1);
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0.0), (4.0, 1.0));
        assert_eq!(axis(3.0), (3.0, 1.0));
        assert_eq!(axis(93.0), (100.0, 50.0));
        assert_eq!(axis(1234.0), (1500.0, 500.0));
        assert_eq!(axis(739.0), (800.0, 200.0));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(-1000.0), "-1,000");
        assert_eq!(number(1.5), "1.50");
    }

    #[test]
    fn text_is_escaped_and_values_hover() {
        let svg = stacked_bars(&chart(vec![3.0, 0.0]));
        assert!(svg.contains("Runs &lt;by&gt; org"));
        assert!(svg.contains("<title>acme-eu, Nov 2025: 3</title>"));
        assert!(!svg.contains("Dec: 0"), "empty segments are not drawn");
        let svg = line(&chart(vec![3.0, 0.0]));
        assert!(svg.contains("<title>acme-eu, Dec: 0</title>"));
        let svg = donut("d", "x", &[("<img src=x>".into(), 2.0), ("b".into(), 2.0)]);
        assert!(svg.contains("&lt;img src=x&gt;: 2 (50.0%)"));
        assert!(!svg.contains("<img"));
        let svg = horizontal_bars("h", "x", "Runs", &[("a".repeat(40), 5.0)]);
        assert!(svg.contains('…'));
    }
}
