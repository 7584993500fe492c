//! The report's plots as SVG text (plotters' SVG backend): scatter, line, grouped bar and heat
//! map charts. Each returns a complete `<svg>` element to inline into HTML.

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use crate::error::{Error, Result};

const SIZE: (u32, u32) = (720, 400);

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::invalid("report plot", e.to_string())
}

fn color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// (min, max) of values, widened when empty or flat.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Points of each named series; x on a log scale when `log_x` (all x must then be >= 1),
/// y in [0, 1].
pub fn scatter(title: &str, x_desc: &str, y_desc: &str, series: &[(String, Vec<(f64, f64)>)], log_x: bool) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (x0, x1) = bounds(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(36).y_label_area_size(48);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(plot_error)?;
                for (i, (name, points)) in series.iter().enumerate() {
                    let c = color(i);
                    chart
                        .draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 4, c.filled())))
                        .map_err(plot_error)?
                        .label(name.as_str())
                        .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
                }
                chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::LowerRight).draw().map_err(plot_error)?;
            }};
        }
        if log_x {
            draw!(builder.build_cartesian_2d((x0.max(1.0) * 0.8..x1.max(1.0) * 1.25).log_scale(), -0.02f64..1.02).map_err(plot_error)?);
        } else {
            let pad = (x1 - x0) * 0.05;
            draw!(builder.build_cartesian_2d(x0 - pad..x1 + pad, -0.02f64..1.02).map_err(plot_error)?);
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Lines of each named series of (x, y) points.
pub fn lines(title: &str, x_desc: &str, y_desc: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (x0, x1) = bounds(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let (y0, y1) = bounds(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
        let pad = (y1 - y0) * 0.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0 - pad..y1 + pad)
            .map_err(plot_error)?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(plot_error)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(plot_error)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Bars: for each group (x label), one bar per series (`values[group][series]`, None = no bar).
pub fn grouped_bars(title: &str, y_desc: &str, groups: &[String], series: &[&str], values: &[Vec<Option<f64>>], y_max: Option<f64>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let top = y_max.unwrap_or_else(|| bounds(values.iter().flatten().flatten().copied()).1.max(1e-6) * 1.1);
        let n = groups.len().max(1);
        let labels: Vec<String> = groups.to_vec();
        let formatter = move |x: &f64| -> String {
            let i = x.floor();
            if (x - i - 0.5).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)
            .map_err(plot_error)?;
        let centres: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&formatter)
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        let width = 0.8 / series.len().max(1) as f64;
        for (s, name) in series.iter().enumerate() {
            let c = color(s);
            let bars: Vec<Rectangle<(f64, f64)>> = values
                .iter()
                .enumerate()
                .filter_map(|(g, row)| row.get(s).copied().flatten().map(|v| (g, v)))
                .map(|(g, v)| {
                    let x = centres[g] - 0.4 + s as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width * 0.92, v)], c.filled())
                })
                .collect();
            chart.draw_series(bars).map_err(plot_error)?.label(*name).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        if series.len() > 1 {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A heat map of `matrix[row][col]` counts, each row normalized to its sum (a confusion matrix:
/// rows true classes, columns predicted).
pub fn heatmap(title: &str, matrix: &[Vec<u64>]) -> Result<String> {
    let mut svg = String::new();
    {
        let n = matrix.len().max(1);
        let root = SVGBackend::with_string(&mut svg, (560, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, n as f64 - 0.5..-0.5f64)
            .map_err(plot_error)?;
        // Cells are centred on the class indices, so the ticks name classes.
        let class_label = |v: &f64| format!("{}", v.round() as i64);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n.min(20))
            .y_labels(n.min(20))
            .x_label_formatter(&class_label)
            .y_label_formatter(&class_label)
            .x_desc("predicted class")
            .y_desc("true class")
            .draw()
            .map_err(plot_error)?;
        let cells = matrix.iter().enumerate().flat_map(|(t, row)| {
            let sum: u64 = row.iter().sum();
            row.iter().enumerate().map(move |(p, &v)| {
                let f = if sum > 0 { v as f64 / sum as f64 } else { 0.0 };
                let shade = (255.0 * (1.0 - f)) as u8;
                let (p, t) = (p as f64, t as f64);
                Rectangle::new([(p - 0.5, t - 0.5), (p + 0.5, t + 0.5)], RGBColor(shade, shade, 255).filled())
            })
        });
        chart.draw_series(cells).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_is_one_svg_element() {
        let series = vec![("a".to_string(), vec![(1.0, 0.5), (10.0, 0.25)])];
        for svg in [
            scatter("t", "x", "y", &series, true).unwrap(),
            scatter("t", "x", "y", &series, false).unwrap(),
            lines("t", "x", "y", &series).unwrap(),
            grouped_bars("t", "y", &["m".into()], &["many", "few"], &[vec![Some(0.5), None]], Some(1.0)).unwrap(),
            heatmap("t", &[vec![2, 1], vec![0, 3]]).unwrap(),
        ] {
            assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        }
    }
}
