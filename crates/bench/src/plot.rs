//! The report's PNG plots, drawn with plotters: throughput and latency
//! against the number of clients (a log axis, 1 to 256).

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// One line of a plot: (clients, value) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// plotters' bitmap text needs a font registered once (no system font lookup).
pub fn register_font(bytes: Vec<u8>) {
    let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    // Only fails when the bytes are no font: the first text drawn then says so.
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, leaked);
}

fn failed(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a plot: {e}")
}

/// The x range of the series (clients), padded on a log axis.
fn clients_range(series: &[Series]) -> (f64, f64) {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::MAX, 1.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    (lo.min(1.0) * 0.8, hi * 1.25)
}

/// Requests per second against clients; a log axis, as the series span
/// two orders of magnitude (`/health` next to a durable create).
pub fn throughput(path: &Path, title: &str, series: &[Series]) -> anyhow::Result<()> {
    draw(path, title, "requests (or transactions) per second", series)
}

/// Latency in milliseconds against clients, on a log axis.
pub fn latency(path: &Path, title: &str, series: &[Series]) -> anyhow::Result<()> {
    draw(path, title, "milliseconds", series)
}

/// Values against clients, both axes logarithmic.
fn draw(path: &Path, title: &str, unit: &str, series: &[Series]) -> anyhow::Result<()> {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let low = if low == f64::MAX {
        0.01
    } else {
        (low * 0.6).max(0.01)
    };
    let (lo, hi) = clients_range(series);
    let root = BitMapBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (lo..hi).log_scale(),
            (low..high.max(low * 10.0) * 1.5).log_scale(),
        )
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc(unit)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()
        .map_err(failed)?;
    draw_lines(&mut chart, series)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(failed)?;
    root.present().map_err(failed)
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let dashed = s.name.contains("p99");
        let style = color.stroke_width(if dashed { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), style))
            .map_err(failed)?
            .label(s.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(PointSeries::of_element(
                s.points.iter().copied(),
                3,
                color.filled(),
                &|c, size, style| EmptyElement::at(c) + Circle::new((0, 0), size, style),
            ))
            .map_err(failed)?;
    }
    Ok(())
}
