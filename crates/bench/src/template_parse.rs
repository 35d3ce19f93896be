//! What a step outside a loop pays at each render for keeping its `with:` templates as text
//! (issue 11): one parse of the template, then the parse dropped.

use std::time::{Duration, Instant};

use crate::{median, Row};

/// The template each step of the sequential benchmark renders.
const TEMPLATE: &str = "${{ steps.s12344.output.n + 1 }}";

pub fn parse_per_render() -> Row {
    const PER_ROUND: u32 = 10_000;
    let mut samples = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let template = weft_expr::Template::parse(std::hint::black_box(TEMPLATE))
                .expect("the benchmark's template parses");
            std::hint::black_box(template);
        }
        samples.push(start.elapsed() / PER_ROUND);
    }
    let parse: Duration = median(samples);
    Row {
        what: "parsing a `with:` template kept as text, at each render of a step outside a loop (`${{ steps.s12344.output.n + 1 }}`, median of 21 rounds of 10,000)",
        measured: format!("{:.2} µs", parse.as_secs_f64() * 1e6),
        target: "included in the ≤ 5 µs a step (issue 11)",
        peer: "-",
    }
}
