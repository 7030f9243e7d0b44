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
        print_read(results);
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

fn print_read(results: &Results) {
    println!(
        "\n| run | target | conns | req/s | of ceiling | of plain | p50 ms | p99 ms | p99.9 ms | errors |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for point in &results.read {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            point.run,
            point.target,
            point.connections,
            point.throughput,
            fraction_of(&results.read, point, "ceiling").unwrap_or(f64::NAN),
            fraction_of(&results.read, point, "plain").unwrap_or(f64::NAN),
            point.p50_ms,
            point.p99_ms,
            point.p999_ms,
            point.errors
        );
    }
    if !results.half_load.is_empty() {
        println!(
            "\n| run | target | at half of its best, req/s asked | measured | p50 ms | p99 ms | p99.9 ms | errors |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|");
        for h in &results.half_load {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
                h.run, h.target, h.rate, h.throughput, h.p50_ms, h.p99_ms, h.p999_ms, h.errors
            );
        }
    }
    print_ratios(&results.read);
}

/// Per run: `me` over plain async-graphql at each connection count and at each one's best,
/// then the spread over the runs.
fn print_ratios(points: &[ReadPoint]) {
    let runs = points.iter().map(|p| p.run).max().map_or(0, |r| r + 1);
    let best = |run: usize, target: &str| {
        points
            .iter()
            .filter(|p| p.run == run && p.target == target)
            .map(|p| p.throughput)
            .fold(f64::NAN, f64::max)
    };
    println!(
        "\n| run | me / plain at each connection count | best me / best plain | best payments req/s |"
    );
    println!("|---:|---|---:|---:|");
    let mut ratios = Vec::new();
    for run in 0..runs {
        let each: Vec<String> = points
            .iter()
            .filter(|p| p.run == run && p.target == "me")
            .map(|p| {
                let ratio = fraction_of(points, p, "plain").unwrap_or(f64::NAN);
                format!("{}: {ratio:.2}", p.connections)
            })
            .collect();
        let ratio = best(run, "me") / best(run, "plain");
        ratios.push(ratio);
        println!(
            "| {run} | {} | {ratio:.2} | {:.0} |",
            each.join(", "),
            best(run, "payments")
        );
    }
    let (low, high) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| {
            (l.min(*r), h.max(*r))
        });
    println!("\nbest me / best plain over {runs} run(s): {low:.2} to {high:.2}");
}

/// The point's throughput over `reference`'s in the same run at the same connection count.
pub fn fraction_of(points: &[ReadPoint], point: &ReadPoint, reference: &str) -> Option<f64> {
    points
        .iter()
        .find(|p| p.target == reference && p.connections == point.connections && p.run == point.run)
        .map(|reference| point.throughput / reference.throughput)
}

/// Prints instructions per request of each target, and `me` over plain async-graphql.
pub fn print_callgrind(points: &[crate::callgrind::CallgrindPoint]) {
    println!("\n| target | instructions/request | requests | dump |");
    println!("|---|---:|---:|---|");
    for p in points {
        println!(
            "| {} | {:.0} | {} | {} |",
            p.target,
            p.instructions_per_request,
            p.requests,
            p.dump.display()
        );
    }
    let of = |target: &str| {
        points
            .iter()
            .find(|p| p.target == target)
            .map(|p| p.instructions_per_request)
    };
    if let (Some(me), Some(plain)) = (of("me"), of("plain")) {
        println!(
            "\nme costs {:.2}× the instructions of plain async-graphql",
            me / plain
        );
    }
}

const COLORS: [RGBColor; 4] = [
    RGBColor(90, 90, 90),
    RGBColor(44, 160, 44),
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
];

/// p99 latency against throughput for each read target; `baseline`'s series dashed.
pub fn plot_read(path: &Path, results: &Results, baseline: Option<&Results>) -> anyhow::Result<()> {
    let mut series = Vec::new();
    for (run, dashed) in [(Some(results), false), (baseline, true)] {
        let Some(run) = run else { continue };
        for (i, target) in ["ceiling", "plain", "me", "payments"].iter().enumerate() {
            // The first run of a repeated read scenario.
            let points: Vec<(f64, f64)> = run
                .read
                .iter()
                .filter(|p| p.target == *target && p.run == 0)
                .map(|p| (p.throughput, p.p99_ms))
                .collect();
            // The references are the same programs in both runs: drawn once.
            let repeated_ceiling = dashed && matches!(*target, "ceiling" | "plain");
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
