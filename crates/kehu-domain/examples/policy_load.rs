//! Benchmark (issue 10): how long loading a policy with 20 workflows takes, parse and check
//! included (every CEL expression compiled, every state, timer, checklist and effect checked), as
//! the server does when a policy is activated or a new version is seen.
//!
//! The policy is the car-dealership preset with the credit-line workflow of
//! docs/examples/credit-line.toml added 20 times under different ids. Run it with
//! `cargo run --release -p kehu-domain --example policy_load [-- ROUNDS]`; it prints the median,
//! p95 and worst of ROUNDS loads (default 200) after 20 to warm up.

use std::time::{Duration, Instant};

use kehu_domain::Policy;

const PRESET: &str = include_str!("../../../presets/car-dealership.toml");
const CREDIT: &str = include_str!("../../../docs/examples/credit-line.toml");
const WORKFLOWS: usize = 20;

/// The preset with `WORKFLOWS` copies of the credit line, each its own workflow and ledger code.
fn source() -> String {
    let (workflow, ledger) = CREDIT
        .split_once("[[ledger.codes]]")
        .expect("the example has its ledger code");
    let mut src = PRESET.to_string();
    for i in 0..WORKFLOWS {
        src.push('\n');
        src.push_str(
            &workflow
                .replace("id = \"credit_line\"", &format!("id = \"credit_line_{i}\""))
                .replace("credit_unreviewed", &format!("credit_unreviewed_{i}")),
        );
        src.push_str("[[ledger.codes]]");
        src.push_str(&ledger.replace("credit_unreviewed", &format!("credit_unreviewed_{i}")));
    }
    src
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let src = source();
    let policy = Policy::parse(&src, "bench.toml").unwrap_or_else(|e| panic!("the bench policy loads: {e}"));
    assert_eq!(policy.workflows.len(), WORKFLOWS, "{WORKFLOWS} workflows");
    for _ in 0..20 {
        std::hint::black_box(Policy::parse(&src, "bench.toml").is_ok());
    }
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(Policy::parse(std::hint::black_box(&src), "bench.toml").is_ok());
            t.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "policy with {WORKFLOWS} workflows ({} lines, {} KB): {rounds} loads, median {:.2} ms, p95 {:.2} ms, worst {:.2} ms",
        src.lines().count(),
        src.len() / 1024,
        ms(at(0.5)),
        ms(at(0.95)),
        ms(times[times.len() - 1]),
    );
}
