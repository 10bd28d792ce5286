//! Inline SVG charts for the report, written through maud so that every label taken from the
//! data (municipality names, project names) is escaped. Nothing is fetched: the charts are part
//! of the page. Each chart is sized for the whole country: a distribution stacks 205 local
//! municipalities into columns instead of drawing them on top of each other, axes fit the values
//! they show, and series are labelled where they end, each in its own colour.

use super::format::{count, pct, ratio};
use maud::{html, Markup};

/// Series colours (Tableau 10, reordered so the first ones differ most); a chart never shows
/// more series than colours, so none is reused.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
];

/// A value axis: its range, tick positions and how values are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Lowest value shown.
    pub lo: f64,
    /// Highest value shown; larger values are drawn at the edge, hollow.
    pub hi: f64,
    /// Tick values.
    pub ticks: Vec<f64>,
    /// Whether values are shares (written as %) rather than ratios.
    pub share: bool,
}

impl Axis {
    /// 0–100%, for shares.
    pub fn share() -> Axis {
        Axis {
            lo: 0.0,
            hi: 1.0,
            ticks: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            share: true,
        }
    }

    /// A share axis zoomed to where the values are (70–100% when every value lies there), so
    /// that 205 municipalities between 80% and 90% are spread over the chart instead of piled
    /// into a few columns; 0–100% when the values spread over more than half of it.
    pub fn share_fitted(values: &[f64]) -> Axis {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let min = v.iter().copied().fold(f64::MAX, f64::min).max(0.0);
        let max = v.iter().copied().fold(f64::MIN, f64::max).min(1.0);
        if v.is_empty() || max - min > 0.5 || max <= 0.0 {
            return Axis::share();
        }
        let step = nice_step((max - min).max(0.1), 5).max(0.05);
        let lo = ((min / step).floor() * step).max(0.0);
        let hi = ((max / step).ceil() * step).min(1.0).max(lo + step);
        let n = ((hi - lo) / step).round() as usize;
        Axis {
            lo,
            hi,
            ticks: (0..=n).map(|i| lo + step * i as f64).collect(),
            share: true,
        }
    }

    /// Whether this is the whole 0–100% share axis.
    pub fn is_full_share(&self) -> bool {
        self.share && self.lo == 0.0 && self.hi == 1.0
    }

    /// An axis fitted to ratios: from 0 (or the smallest value, if negative) to a round number
    /// above the largest value, or above the 95th percentile when a few outliers lie far beyond
    /// it; `include` values (a target of 1) are always inside.
    pub fn fitted(values: &[f64], include: &[f64]) -> Axis {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let (min, max) = (v.first().copied().unwrap_or(0.0), v.last().copied().unwrap_or(1.0));
        let p95 = v
            .get(((v.len().max(1) - 1) as f64 * 0.95).round() as usize)
            .copied()
            .unwrap_or(max);
        let mut hi = if p95 > 0.0 && max > 2.0 * p95 { p95 * 1.25 } else { max };
        for x in include {
            hi = hi.max(x * 1.1);
        }
        let lo = min.min(0.0);
        if hi <= lo {
            hi = lo + 1.0;
        }
        let step = nice_step(hi - lo, 5);
        let hi = (hi / step).ceil() * step;
        let lo = (lo / step).floor() * step;
        let n = ((hi - lo) / step).round() as usize;
        Axis {
            lo,
            hi,
            ticks: (0..=n).map(|i| lo + step * i as f64).collect(),
            share: false,
        }
    }

    /// Where `v` falls between `x0` and `x1`, clamped to the axis.
    pub fn pos(&self, v: f64, x0: f64, x1: f64) -> f64 {
        x0 + ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0) * (x1 - x0)
    }

    /// A value as this axis writes it.
    pub fn label(&self, v: f64) -> String {
        if self.share {
            pct(v)
        } else {
            ratio(v)
        }
    }
}

/// A round step (1, 2 or 5 × a power of ten) giving about `n` intervals over `span`.
fn nice_step(span: f64, n: usize) -> f64 {
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `123.4`: SVG coordinates with one decimal, so the file stays small and identical run to run.
fn c(x: f64) -> String {
    format!("{x:.1}")
}

/// One municipality on a distribution chart.
#[derive(Debug, Clone)]
pub struct Dot {
    /// Demarcation code (the selected municipality is found by it).
    pub key: String,
    /// Hover text: code, name and value.
    pub title: String,
    /// The value.
    pub value: f64,
}

/// One peer group's row of dots.
#[derive(Debug, Clone)]
pub struct Group {
    /// Row label (`A metros`).
    pub label: String,
    /// Its municipalities.
    pub dots: Vec<Dot>,
}

/// Width of every chart, in pixels.
const WIDTH: f64 = 760.0;
/// Distance between dot columns.
const DOT: f64 = 6.0;
/// Dots in a column from which the column is labelled with its count (the dots then overlap).
const CROWDED: usize = 12;

/// A dot plot per peer group: every municipality one dot, dots with about the same value
/// stacked into a column around the row's centre (so 205 locals stay countable), the group's
/// median as a line, the selected municipality in red and labelled, values beyond the axis hollow
/// at its right edge, crowded columns labelled with their count (the tallest, where labels would
/// collide), and an optional reference line
/// (a target of 1).
pub fn distribution(groups: &[Group], axis: &Axis, selected: Option<&str>, reference: Option<(f64, &str)>) -> Markup {
    let (x0, x1) = (170.0, WIDTH - 30.0);
    let mut rows = Vec::new();
    let mut y = 8.0;
    for g in groups.iter().filter(|g| !g.dots.is_empty()) {
        let (markup, height) = group_row(g, axis, (x0, x1), y, selected);
        rows.push(markup);
        y += height;
    }
    let axis_y = y + 4.0;
    let height = axis_y + 22.0;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(c(height)) viewBox={"0 0 " (WIDTH) " " (c(height))} role="img" {
            @for r in &rows { (r) }
            line x1=(x0) y1=(c(axis_y)) x2=(x1) y2=(c(axis_y)) stroke="#888" {}
            @for t in &axis.ticks {
                @let tx = axis.pos(*t, x0, x1);
                line x1=(c(tx)) y1=(c(axis_y)) x2=(c(tx)) y2=(c(axis_y + 4.0)) stroke="#888" {}
                text x=(c(tx)) y=(c(axis_y + 16.0)) text-anchor="middle" class="tick" { (axis.label(*t)) }
            }
            @if let Some((v, label)) = reference {
                @let rx = axis.pos(v, x0, x1);
                line x1=(c(rx)) y1="4" x2=(c(rx)) y2=(c(axis_y)) stroke="#2ca02c" stroke-dasharray="4 3" {}
                text x=(c(rx + 3.0)) y=(c(axis_y - 3.0)) class="tick" fill="#2ca02c" { (label) }
            }
        }
    }
}

/// One peer group's row; returns the markup and the row's height.
fn group_row(g: &Group, axis: &Axis, (x0, x1): (f64, f64), top: f64, selected: Option<&str>) -> (Markup, f64) {
    // Stack dots of one column alternately above and below the centre line.
    let mut dots: Vec<&Dot> = g.dots.iter().collect();
    dots.sort_by(|a, b| a.value.total_cmp(&b.value).then_with(|| a.key.cmp(&b.key)));
    let mut columns: std::collections::BTreeMap<i64, usize> = Default::default();
    let placed: Vec<(&Dot, f64, usize)> = dots
        .iter()
        .map(|d| {
            let x = axis.pos(d.value, x0, x1);
            let n = columns.entry(((x - x0) / DOT).round() as i64).or_default();
            *n += 1;
            (*d, x, *n - 1)
        })
        .collect();
    let tallest = columns.values().copied().max().unwrap_or(1);
    let half = tallest.div_ceil(2) as f64;
    let step = DOT.min(60.0 / half.max(1.0));
    let height = (2.0 * half * step + 26.0).max(40.0);
    let mid = top + 12.0 + half * step;
    let offset = |k: usize| {
        let i = k.div_ceil(2) as f64;
        if k % 2 == 1 {
            -i * step
        } else {
            i * step
        }
    };
    let mut values: Vec<f64> = dots.iter().map(|d| d.value).collect();
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let mx = axis.pos(median, x0, x1);
    let chosen = placed.iter().find(|(d, ..)| Some(d.key.as_str()) == selected);
    // Crowded columns get their count, tallest first, none closer than 4 columns to another.
    let mut crowded: Vec<(i64, usize)> = columns
        .iter()
        .filter(|(_, n)| **n >= CROWDED)
        .map(|(c, n)| (*c, *n))
        .collect();
    crowded.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut counted: Vec<(i64, usize)> = Vec::new();
    for (col, n) in crowded {
        if counted.iter().all(|(other, _)| (other - col).abs() >= 4) {
            counted.push((col, n));
        }
    }
    let markup = html! {
        text x="4" y=(c(mid - 2.0)) class="grp" { (g.label) }
        text x="4" y=(c(mid + 11.0)) class="tick" { (count(dots.len())) " · median " (axis.label(median)) }
        line x1=(c(x0)) y1=(c(mid)) x2=(c(x1)) y2=(c(mid)) stroke="#eee" {}
        line x1=(c(mx)) y1=(c(mid - half * step - 5.0)) x2=(c(mx)) y2=(c(mid + half * step + 5.0)) stroke="#555" stroke-width="1.5" {}
        @for (d, x, k) in &placed {
            @let beyond = d.value > axis.hi || d.value < axis.lo;
            circle class=(if beyond { "d out" } else { "d" }) data-m=(d.key) cx=(c(*x)) cy=(c(mid + offset(*k))) r="2.6" {
                title { (d.title) }
            }
        }
        @for (col, n) in &counted {
            @let cx = x0 + *col as f64 * DOT;
            text x=(c(cx)) y=(c(mid - n.div_ceil(2) as f64 * step - 4.0)) text-anchor="middle" class="cnt" { (n) }
        }
        @if let Some((d, x, k)) = chosen {
            @let cy = mid + offset(*k);
            @let right = *x > (x0 + x1) / 2.0;
            circle class="sel" cx=(c(*x)) cy=(c(cy)) r="4.5" { title { (d.title) } }
            text x=(c(if right { x - 8.0 } else { x + 8.0 })) y=(c(mid + half * step + 11.0)) text-anchor=(if right { "end" } else { "start" }) class="selt" {
                (d.key) " " (axis.label(d.value))
            }
        }
    };
    (markup, height)
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its label, written at its last point.
    pub label: String,
    /// (x index, value) points.
    pub points: Vec<(usize, f64)>,
}

/// A line chart over categories (years), each series in its own colour and labelled at its
/// last point (labels moved apart when they would overlap, with a leader line).
pub fn lines(series: &[Series], x_labels: &[String], axis: &Axis) -> Markup {
    let (x0, x1, top, bottom) = (48.0, WIDTH - 290.0, 12.0, 232.0);
    let n = x_labels.len().max(2) as f64 - 1.0;
    let x = |i: usize| x0 + i as f64 / n * (x1 - x0);
    let y = |v: f64| bottom - axis.pos(v, 0.0, 1.0) * (bottom - top);
    let ends = label_positions(
        &series
            .iter()
            .map(|s| s.points.last().map_or(bottom, |p| y(p.1)))
            .collect::<Vec<_>>(),
        12.0,
        (top, bottom),
    );
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(c(bottom + 28.0)) viewBox={"0 0 " (WIDTH) " " (c(bottom + 28.0))} role="img" {
            @for t in &axis.ticks {
                line x1=(x0) y1=(c(y(*t))) x2=(x1) y2=(c(y(*t))) stroke="#eee" {}
                text x=(c(x0 - 4.0)) y=(c(y(*t) + 3.0)) text-anchor="end" class="tick" { (axis.label(*t)) }
            }
            @for (i, l) in x_labels.iter().enumerate() {
                text x=(c(x(i))) y=(c(bottom + 16.0)) text-anchor="middle" class="tick" { (l) }
            }
            @for (k, s) in series.iter().enumerate().take(PALETTE.len()) {
                @let colour = PALETTE[k];
                @let pts: Vec<String> = s.points.iter().map(|(i, v)| format!("{},{}", c(x(*i)), c(y(*v)))).collect();
                polyline fill="none" stroke=(colour) stroke-width="2" points=(pts.join(" ")) {}
                @for (i, v) in &s.points {
                    circle cx=(c(x(*i))) cy=(c(y(*v))) r="3" fill=(colour) { title { (s.label) ": " (axis.label(*v)) } }
                }
                @if let Some((i, v)) = s.points.last() {
                    line x1=(c(x(*i) + 4.0)) y1=(c(y(*v))) x2=(c(x1 + 10.0)) y2=(c(ends[k])) stroke=(colour) stroke-width="0.8" {}
                    text x=(c(x1 + 13.0)) y=(c(ends[k] + 3.5)) fill=(colour) class="lab" { (s.label) " " (axis.label(*v)) }
                }
            }
        }
    }
}

/// Label heights near `wanted`, at least `gap` apart, inside `(top, bottom)`.
fn label_positions(wanted: &[f64], gap: f64, (top, bottom): (f64, f64)) -> Vec<f64> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|a, b| wanted[*a].total_cmp(&wanted[*b]).then(a.cmp(b)));
    let mut out = wanted.to_vec();
    let mut last = f64::MIN;
    for &i in &order {
        out[i] = wanted[i].max(last + gap).max(top);
        last = out[i];
    }
    // Pushed past the bottom: shift everything up as much as needed.
    let over = last - bottom;
    if over > 0.0 {
        for &i in order.iter().rev() {
            out[i] -= over;
        }
    }
    out
}

/// One stacked series of a histogram.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Label, written above the series' tallest bar.
    pub label: String,
    /// Colour.
    pub colour: &'static str,
    /// Count per bin.
    pub counts: Vec<usize>,
}

/// A stacked histogram over bins whose edges are `edges` (one more than bins), each series
/// labelled directly above its tallest bar.
pub fn histogram(edges: &[f64], stacks: &[Stack], x_title: &str) -> Markup {
    let (x0, x1, top, bottom) = (48.0, WIDTH - 20.0, 14.0 + 14.0 * stacks.len() as f64, 190.0);
    let bins = edges.len().saturating_sub(1).max(1);
    let totals: Vec<usize> = (0..bins)
        .map(|b| stacks.iter().map(|s| s.counts.get(b).copied().unwrap_or(0)).sum())
        .collect();
    let peak = totals.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = (x1 - x0) / bins as f64;
    let h = |n: usize| n as f64 / peak * (bottom - top);
    let every = (bins / 12).max(1);
    // (bin, series, top, height) of every non-empty segment, series stacked bottom up.
    let mut rects: Vec<(usize, usize, f64, f64)> = Vec::new();
    for b in 0..bins {
        let mut base = bottom;
        for (k, s) in stacks.iter().enumerate() {
            let n = s.counts.get(b).copied().unwrap_or(0);
            if n > 0 {
                rects.push((b, k, base - h(n), h(n)));
                base -= h(n);
            }
        }
    }
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(c(bottom + 34.0)) viewBox={"0 0 " (WIDTH) " " (c(bottom + 34.0))} role="img" {
            line x1=(x0) y1=(c(bottom)) x2=(x1) y2=(c(bottom)) stroke="#888" {}
            text x=(c(x0 - 4.0)) y=(c(top + 4.0)) text-anchor="end" class="tick" { (count(peak as usize)) }
            text x=(c(x0 - 4.0)) y=(c(bottom)) text-anchor="end" class="tick" { "0" }
            @for (b, k, y, height) in &rects {
                @let (s, n) = (&stacks[*k], stacks[*k].counts[*b]);
                rect x=(c(x0 + *b as f64 * bw + 0.5)) y=(c(*y)) width=(c((bw - 1.0).max(0.5))) height=(c(*height)) fill=(s.colour) {
                    title { (s.label) ", " (edge(edges[*b])) " to " (edge(edges[*b + 1])) ": " (count(n)) }
                }
            }
            @for b in (0..=bins).step_by(every) {
                text x=(c(x0 + b as f64 * bw)) y=(c(bottom + 14.0)) text-anchor="middle" class="tick" { (edge(edges[b.min(edges.len() - 1)])) }
            }
            text x=(c((x0 + x1) / 2.0)) y=(c(bottom + 30.0)) text-anchor="middle" class="tick" { (x_title) }
            @for (k, s) in stacks.iter().enumerate() {
                @let total: usize = s.counts.iter().sum();
                @let peak_bin = s.counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |p| p.0);
                @let lx = x0 + (peak_bin as f64 + 0.5) * bw;
                @let stacked_top = bottom - stacks[..=k].iter().map(|t| h(t.counts.get(peak_bin).copied().unwrap_or(0))).sum::<f64>();
                @let ly = 12.0 + 14.0 * k as f64;
                @if total > 0 {
                    line x1=(c(lx)) y1=(c(ly + 2.0)) x2=(c(lx)) y2=(c(stacked_top)) stroke=(s.colour) stroke-width="0.8" {}
                    @let right = lx > x1 - 200.0;
                    text x=(c(if right { lx - 3.0 } else { lx + 3.0 })) y=(c(ly)) text-anchor=(if right { "end" } else { "start" }) fill=(s.colour) class="lab" {
                        (s.label) " (" (count(total)) ")"
                    }
                }
            }
        }
    }
}

/// A bin edge: whole numbers without decimals.
fn edge(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        ratio(v)
    }
}

/// One step of a waterfall.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step is (`name: high`).
    pub label: String,
    /// Its signed contribution.
    pub value: f64,
}

/// A horizontal waterfall: each step a bar from the running total before it to the one after
/// (green adds, red takes away), then the total from zero.
pub fn waterfall(steps: &[Step], total_label: &str) -> Markup {
    let (x0, x1, row) = (240.0, WIDTH - 90.0, 17.0);
    let mut running = 0.0;
    let spans: Vec<(f64, f64)> = steps
        .iter()
        .map(|s| {
            let from = running;
            running += s.value;
            (from, running)
        })
        .collect();
    let total = running;
    let lo = spans.iter().flat_map(|(a, b)| [*a, *b]).fold(0.0_f64, f64::min);
    let hi = spans.iter().flat_map(|(a, b)| [*a, *b]).fold(0.0_f64, f64::max);
    let axis = Axis::fitted(&[lo, hi], &[]);
    let x = |v: f64| axis.pos(v, x0, x1);
    let height = row * (steps.len() as f64 + 1.0) + 26.0;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(c(height)) viewBox={"0 0 " (WIDTH) " " (c(height))} role="img" {
            line x1=(c(x(0.0))) y1="2" x2=(c(x(0.0))) y2=(c(height - 22.0)) stroke="#888" {}
            @for (i, (s, (a, b))) in steps.iter().zip(&spans).enumerate() {
                @let y = 4.0 + row * i as f64;
                text x=(c(x0 - 6.0)) y=(c(y + 11.0)) text-anchor="end" class="tick" { (s.label) }
                rect x=(c(x(a.min(*b)))) y=(c(y)) width=(c((x(*b) - x(*a)).abs().max(1.0))) height=(c(row - 4.0)) fill=(if s.value >= 0.0 { "#2ca02c" } else { "#d62728" }) {}
                text x=(c(x1 + 6.0)) y=(c(y + 11.0)) class="tick" { (if s.value >= 0.0 { "+" } else { "" }) (format!("{:.2}", s.value)) }
            }
            @let y = 4.0 + row * steps.len() as f64;
            text x=(c(x0 - 6.0)) y=(c(y + 11.0)) text-anchor="end" class="grp" { (total_label) }
            rect x=(c(x(total.min(0.0)))) y=(c(y)) width=(c((x(total) - x(0.0)).abs().max(1.0))) height=(c(row - 4.0)) fill="#1f77b4" {}
            text x=(c(x1 + 6.0)) y=(c(y + 11.0)) class="grp" { (format!("{total:.2}")) }
            @for t in &axis.ticks {
                text x=(c(x(*t))) y=(c(height - 8.0)) text-anchor="middle" class="tick" { (ratio(*t)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_axes_fit_their_values_and_keep_the_target() {
        let a = Axis::fitted(&[0.1, 0.2, 0.35], &[]);
        assert_eq!((a.lo, a.hi), (0.0, 0.4));
        let b = Axis::fitted(&[0.9, 1.0, 1.05], &[1.0]);
        assert!(b.hi >= 1.1 && b.hi <= 1.5 && b.ticks.contains(&1.0), "{b:?}");
        // One outlier far beyond the rest does not squash them.
        let mut v: Vec<f64> = (0..100).map(|i| 0.5 + f64::from(i) / 200.0).collect();
        v.push(40.0);
        let o = Axis::fitted(&v, &[]);
        assert!(o.hi < 2.0, "{o:?}");
    }

    #[test]
    fn series_have_distinct_colours_and_their_own_labels() {
        let series: Vec<Series> = (0..8)
            .map(|k| Series {
                label: format!("metric {k}"),
                points: vec![(0, 0.5), (1, 0.5 + f64::from(k) / 100.0)],
            })
            .collect();
        let svg = lines(&series, &["2024/25".into(), "2025/26".into()], &Axis::share()).into_string();
        let strokes: std::collections::BTreeSet<&str> = svg
            .match_indices("<polyline fill=\"none\" stroke=\"")
            .map(|(i, m)| &svg[i + m.len()..i + m.len() + 7])
            .collect();
        assert_eq!(strokes.len(), 8, "{strokes:?}");
        for k in 0..8 {
            assert!(svg.contains(&format!(">metric {k} ")), "series {k} is labelled");
        }
    }

    #[test]
    fn a_crowded_column_is_counted_and_the_selected_dot_marked() {
        let dots: Vec<Dot> = (0..205)
            .map(|i| Dot {
                key: format!("M{i}"),
                title: format!("M{i} <b>"),
                value: if i < 200 { 1.0 } else { 0.2 },
            })
            .collect();
        let groups = [Group {
            label: "B local municipalities".into(),
            dots,
        }];
        let svg = distribution(&groups, &Axis::share(), Some("M203"), None).into_string();
        assert!(svg.contains(">200</text>"), "the column of 200 at 100% is counted");
        assert!(svg.contains("class=\"sel\""));
        assert!(
            svg.contains(">M203 20%</text>"),
            "the selected municipality is labelled"
        );
        assert!(
            svg.contains("M5 &lt;b&gt;") && !svg.contains("<b>"),
            "hover texts are escaped"
        );
    }

    #[test]
    fn share_axes_zoom_to_clustered_values_only() {
        let a = Axis::share_fitted(&[0.78, 0.85, 0.9, 0.93]);
        assert!(
            a.lo >= 0.7 && a.lo <= 0.78 && a.hi >= 0.93 && a.hi <= 1.0 && a.share,
            "{a:?}"
        );
        assert!(!a.is_full_share());
        assert!(Axis::share_fitted(&[0.1, 0.9]).is_full_share());
        assert!(Axis::share_fitted(&[]).is_full_share());
        assert!(
            Axis::share_fitted(&[0.0, 0.0]).is_full_share(),
            "all zero: the whole axis"
        );
    }

    #[test]
    fn labels_are_kept_apart_and_inside() {
        let p = label_positions(&[100.0, 101.0, 102.0], 12.0, (0.0, 300.0));
        assert_eq!(p, vec![100.0, 112.0, 124.0]);
        let q = label_positions(&[295.0, 296.0], 12.0, (0.0, 300.0));
        assert_eq!(q, vec![288.0, 300.0]);
    }
}
