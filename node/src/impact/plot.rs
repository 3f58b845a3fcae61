//! The impact report as a picture (`buurt impact --format svg`): the
//! ask/offer balance and the funnel from listing to completed agreement,
//! per topic group, drawn with plotters. Hidden cells are left out and
//! said so under each chart; nothing is drawn that the tables do not show.

use plotters::prelude::*;

use super::report::Report;

/// One chart's bars: per group, a value per series (`None` when hidden).
struct Bars {
    title: &'static str,
    series: Vec<(&'static str, RGBColor)>,
    groups: Vec<String>,
    values: Vec<Vec<Option<u64>>>,
}

fn bars(
    r: &Report,
    table: &str,
    title: &'static str,
    columns: &[(&'static str, &'static str, RGBColor)],
) -> Bars {
    let mut groups: Vec<String> = Vec::new();
    for f in r
        .figures
        .iter()
        .filter(|f| f.table == table && f.row != "total")
    {
        if !groups.contains(&f.row) {
            groups.push(f.row.clone());
        }
    }
    let values = groups
        .iter()
        .map(|g| {
            columns
                .iter()
                .map(|(c, _, _)| {
                    r.figures
                        .iter()
                        .find(|f| f.table == table && f.row == *g && f.column == *c)
                        .and_then(|f| f.value)
                })
                .collect()
        })
        .collect();
    Bars {
        title,
        series: columns
            .iter()
            .map(|(_, label, colour)| (*label, *colour))
            .collect(),
        groups,
        values,
    }
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    b: &Bars,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let n = b.groups.len().max(1);
    let top = b
        .values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(5) as f64
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(b.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)
        .map_err(|e| err(&e))?;
    let names = b.groups.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n + 1)
        .x_label_formatter(&move |x| {
            let i = x.floor();
            if (x - i - 0.5).abs() < 0.01 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    let k = b.series.len() as f64;
    let width = 0.8 / k;
    for (s, (label, colour)) in b.series.iter().enumerate() {
        let rects: Vec<Rectangle<(f64, f64)>> = b
            .values
            .iter()
            .enumerate()
            .filter_map(|(g, vs)| {
                let v = vs.get(s).copied().flatten()? as f64;
                let x0 = g as f64 + 0.1 + s as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.92, v)],
                    colour.filled(),
                ))
            })
            .collect();
        let c = *colour;
        chart
            .draw_series(rects)
            .map_err(|e| err(&e))?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

/// The report's picture as SVG text.
pub fn svg(r: &Report) -> Result<String, String> {
    let balance = bars(
        r,
        "listings",
        "Vragen en aanbod per groep (offers and requests)",
        &[
            ("offers", "aanbod / offers", RGBColor(11, 93, 59)),
            ("requests", "vragen / requests", RGBColor(214, 129, 18)),
        ],
    );
    let funnel = bars(
        r,
        "funnel",
        "Van vermelding tot afspraak (from listing to agreement)",
        &[
            (
                "members_listings",
                "vermeldingen / listings",
                RGBColor(90, 120, 150),
            ),
            (
                "with_first_reaction",
                "eerste reactie / first reaction",
                RGBColor(214, 129, 18),
            ),
            ("accepted", "afgesproken / accepted", RGBColor(60, 150, 110)),
            ("completed", "klaar / completed", RGBColor(11, 93, 59)),
        ],
    );
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (upper, lower) = root.split_vertically(340);
        let (lower, footer) = lower.split_vertically(380);
        draw(&upper, &balance)?;
        draw(&lower, &funnel)?;
        // The period and the rules, in lines of about 150 characters.
        let text = format!("{} – {}. Rules: {}.", r.since, r.until, r.rules_text);
        let mut lines = vec![String::new()];
        for word in text.split(' ') {
            if lines.last().is_some_and(|l| l.len() + word.len() > 150) {
                lines.push(String::new());
            }
            let l = lines.last_mut().expect("a line");
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
        for (i, line) in lines.iter().enumerate() {
            footer
                .draw(&Text::new(
                    line.clone(),
                    (14, 6 + 15 * i as i32),
                    ("sans-serif", 12),
                ))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}
