//! The self-contained HTML report: the tables plus inline-SVG plots of latency (p50/p99 per
//! second) and outcomes per second. No scripts, fonts or fetches.

use crate::audit::Audit;
use crate::outcome::Outcome;
use crate::report::Report;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 260.0;
const MARGIN: f64 = 50.0;
/// Line colours, cycled (colour-blind-safe Okabe–Ito palette).
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
];

/// One plotted line.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG line chart with axes, max labels and a legend.
fn line_chart(title: &str, y_label: &str, series: &[Series]) -> String {
    let points = series.iter().flat_map(|line| line.points.iter());
    let x_max = points.clone().map(|point| point.0).fold(1.0, f64::max);
    let y_max = points.map(|point| point.1).fold(1.0, f64::max);
    let plot_width = WIDTH - 2.0 * MARGIN;
    let plot_height = HEIGHT - 2.0 * MARGIN;
    let x = |value: f64| MARGIN + value / x_max * plot_width;
    let y = |value: f64| HEIGHT - MARGIN - value / y_max * plot_height;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r##"<text x="{MARGIN}" y="20" font-weight="bold">{}</text><line x1="{MARGIN}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/><line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}" stroke="#888"/><text x="{MARGIN}" y="{label_y}">0</text><text x="{right}" y="{label_y}" text-anchor="end">{x_max:.0} s</text><text x="{left_label}" y="{top_label}" text-anchor="end">{y_max:.0}</text><text x="{left_label}" y="{bottom}" text-anchor="end">0</text><text x="{MARGIN}" y="{y_label_y}">{}</text>"##,
        escape(title),
        escape(y_label),
        bottom = HEIGHT - MARGIN,
        right = WIDTH - MARGIN,
        label_y = HEIGHT - MARGIN + 15.0,
        left_label = MARGIN - 4.0,
        top_label = MARGIN + 4.0,
        y_label_y = MARGIN - 8.0,
    );
    for (index, line) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let path: Vec<String> = line
            .points
            .iter()
            .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/><rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}"/><text x="{tx}" y="{ty}">{}</text>"#,
            path.join(" "),
            escape(&line.name),
            lx = WIDTH - MARGIN - 150.0,
            ly = MARGIN + index as f64 * 16.0,
            tx = WIDTH - MARGIN - 135.0,
            ty = MARGIN + index as f64 * 16.0 + 10.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Renders the full page.
pub(crate) fn render(report: &Report, audit: &Audit) -> String {
    let latency = [("p50", 0usize), ("p99", 1)]
        .into_iter()
        .map(|(name, which)| Series {
            name: format!("{name} ms"),
            points: report
                .timeline
                .iter()
                .filter(|second| second.requests > 0)
                .map(|second| {
                    let micros = if which == 0 {
                        second.p50_us
                    } else {
                        second.p99_us
                    };
                    (second.second as f64, micros as f64 / 1_000.0)
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let outcomes = Outcome::ALL
        .iter()
        .filter(|outcome| report.overall.outcomes.contains_key(outcome.code()))
        .map(|outcome| Series {
            name: outcome.code().to_owned(),
            points: report
                .timeline
                .iter()
                .map(|second| {
                    let count = second.outcomes.get(outcome.code()).copied().unwrap_or(0);
                    (second.second as f64, count as f64)
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>stampede bench</title>
<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}.fail{{color:#b00}}.pass{{color:#070}}</style>
</head><body>
<h1>stampede bench</h1>
<h2 class="{class}">audit {verdict}</h2>
<pre>{audit}</pre>
<h2>summary</h2>
<pre>{table}</pre>
<h2>latency over time</h2>
{latency_chart}
<h2>outcomes over time</h2>
{outcome_chart}
</body></html>
"#,
        class = if audit.passed() { "pass" } else { "fail" },
        verdict = if audit.passed() { "passed" } else { "FAILED" },
        audit = escape(&audit.to_text()),
        table = escape(&report.to_table()),
        latency_chart = line_chart("latency per second (ms)", "ms", &latency),
        outcome_chart = line_chart("responses per second by outcome", "responses/s", &outcomes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_inline_svg_and_escapes_text() {
        let svg = line_chart(
            "a<b",
            "y",
            &[Series {
                name: "x&y".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("x&amp;y"));
        assert!(svg.contains("<polyline"));
        assert!(!svg.contains("http://") || svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
