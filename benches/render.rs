//! Rendering one template in process: `cargo bench --bench render`.
//! Prints the median and 99th percentile over many renders of each shipped
//! template, and the time to load and check all templates.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use paved::scaffold::{Templates, render, resolve};

const RUNS: usize = 500;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let started = Instant::now();
    let templates = Templates::load(&dir).expect("templates load");
    println!(
        "load and check all templates: {:.2} ms",
        ms(started.elapsed())
    );
    let given: BTreeMap<String, String> = [
        ("name", "billing-api"),
        (
            "description",
            "Bills customers once a month, with \"quotes\" and\nnew lines.",
        ),
        ("owner", "@acme/payments"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for t in templates.iter() {
        let bytes: usize = render(t, &resolve(t, &given).expect("values"))
            .expect("render")
            .files
            .iter()
            .map(|f| f.contents.len())
            .sum();
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let values = resolve(t, &given).expect("values");
                let rendered = render(t, &values).expect("render");
                std::hint::black_box(rendered);
                start.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "render {:<15} {} files, {bytes} bytes: median {:.3} ms, p99 {:.3} ms ({RUNS} runs)",
            t.name,
            t.files().len(),
            ms(times[RUNS / 2]),
            ms(times[RUNS * 99 / 100]),
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
