//! The printed table and the SVG plots.

use std::path::Path;

use plotters::prelude::*;

use crate::results::{ReadPoint, Results};

/// Prints every figure of `results` as plain-text tables.
pub fn print(results: &Results) {
    println!(
        "\n# switchboard load harness: {} ({})",
        results.label, results.machine
    );
    if let Some(s) = &results.startup {
        println!(
            "\nstart-up: ready in {:.0} ms median ({:.0} ms max, {} runs); idle RSS {:.1} MiB; binary {:.1} MiB",
            s.ready_ms_median, s.ready_ms_max, s.runs, s.idle_rss_mib, s.binary_mib
        );
    }
    if !results.read.is_empty() {
        println!("\n| target | conns | req/s | of ceiling | p50 ms | p99 ms | p99.9 ms | errors |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for point in &results.read {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                point.target,
                point.connections,
                point.throughput,
                fraction_of_ceiling(&results.read, point).unwrap_or(f64::NAN),
                point.p50_ms,
                point.p99_ms,
                point.p999_ms,
                point.errors
            );
        }
    }
    if !results.fanout.is_empty() {
        println!(
            "\n| subscribers | p50 ms | p99 ms | max ms | missing | server RSS MiB | KiB/subscriber | server CPU ms |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for p in &results.fanout {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.1} | {:.0} |",
                p.subscribers,
                p.p50_ms,
                p.p99_ms,
                p.max_ms,
                p.missing,
                p.server_rss_mib,
                p.rss_kib_per_subscriber,
                p.server_cpu_ms
            );
        }
    }
    if !results.ingest.is_empty() {
        println!(
            "\n| backend | flat out accepted/s | applied/s | two instances accepted/s | applied/s | flat p99 ms | rate/s | delivered | webhook p99 ms | e2e p50 ms | e2e p99 ms | e2e max ms |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for i in &results.ingest {
            println!(
                "| {} | {:.0} | {:.0} | {} | {} | {:.1} | {} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} |",
                i.backend,
                i.flat_out_per_s,
                i.flat_out_applied_per_s,
                i.two_instances
                    .map_or("-".into(), |t| format!("{:.0}", t.0)),
                i.two_instances
                    .map_or("-".into(), |t| format!("{:.0}", t.1)),
                i.flat_out_p99_ms,
                i.rate,
                i.delivered,
                i.sent,
                i.http_p99_ms,
                i.e2e_p50_ms,
                i.e2e_p99_ms,
                i.e2e_max_ms
            );
        }
    }
    if !results.resilience.is_empty() {
        println!("\n| provider call (criterion) | ns/call |");
        println!("|---|---:|");
        for r in &results.resilience {
            println!("| {} | {:.0} |", r.name, r.ns_per_call);
        }
    }
}

/// The point's throughput over the ceiling's at the same connection count.
pub fn fraction_of_ceiling(points: &[ReadPoint], point: &ReadPoint) -> Option<f64> {
    points
        .iter()
        .find(|p| p.target == "ceiling" && p.connections == point.connections)
        .map(|ceiling| point.throughput / ceiling.throughput)
}

const COLORS: [RGBColor; 3] = [
    RGBColor(90, 90, 90),
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
];

/// p99 latency against throughput for each read target; `baseline`'s series dashed.
pub fn plot_read(path: &Path, results: &Results, baseline: Option<&Results>) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for (run, dashed) in [(Some(results), false), (baseline, true)] {
        let Some(run) = run else { continue };
        for (i, target) in ["ceiling", "me", "payments"].iter().enumerate() {
            let points: Vec<(f64, f64)> = run
                .read
                .iter()
                .filter(|p| p.target == *target)
                .map(|p| (p.throughput, p.p99_ms))
                .collect();
            // The ceiling is the same program in both runs: drawn once.
            let repeated_ceiling = dashed && *target == "ceiling";
            if !points.is_empty() && !repeated_ceiling {
                series.push((
                    format!("{target} ({})", run.label),
                    COLORS[i],
                    dashed,
                    points,
                ));
            }
        }
    }
    draw(
        path,
        "GraphQL reads: p99 latency vs throughput (points: 1 to 64 connections)",
        "requests/s",
        "p99 latency (ms)",
        SeriesLabelPosition::UpperRight,
        &series,
    )
}

/// Fan-out latency percentiles against subscriber count; `baseline`'s series dashed.
pub fn plot_fanout(
    path: &Path,
    results: &Results,
    baseline: Option<&Results>,
) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for (run, dashed) in [(Some(results), false), (baseline, true)] {
        let Some(run) = run else { continue };
        let pick: [(&str, Pick); 3] = [
            ("p50", |p| p.p50_ms),
            ("p99", |p| p.p99_ms),
            ("max", |p| p.max_ms),
        ];
        for (i, (name, value)) in pick.iter().enumerate() {
            let points: Vec<(f64, f64)> = run
                .fanout
                .iter()
                .map(|p| (p.subscribers as f64, value(p)))
                .collect();
            if !points.is_empty() {
                series.push((format!("{name} ({})", run.label), COLORS[i], dashed, points));
            }
        }
    }
    draw(
        path,
        "Subscription fan-out: webhook to every subscriber",
        "subscribers",
        "latency (ms)",
        SeriesLabelPosition::UpperLeft,
        &series,
    )
}

/// Reads one latency figure of a fan-out point.
type Pick = fn(&crate::results::FanoutPoint) -> f64;

type Series = (String, RGBColor, bool, Vec<(f64, f64)>);

fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    legend: SeriesLabelPosition,
    series: &[Series],
) -> anyhow::Result<()> {
    let values = series.iter().flat_map(|s| s.3.iter());
    let (x_max, y_max) = values
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .fold((1.0f64, 1.0f64), |(mx, my), (x, y)| {
            (mx.max(*x), my.max(*y))
        });
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max * 1.05, 0.0..y_max * 1.1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()?;
    for (name, color, dashed, points) in series {
        let style = ShapeStyle::from(color).stroke_width(2);
        let points: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let drawn = if *dashed {
            chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))?
        };
        let legend_color = *color;
        drawn
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], legend_color));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}
