//! Rendering: `cargo bench --bench render`.
//! Prints the median and 99th percentile over many in-process renders of
//! each shipped template, the time to load and check all templates, and the
//! wall time of `paved render` as a whole process (start, load, render,
//! write the files, exit).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use paved_app::scaffold::{Templates, render, resolve};

const RUNS: usize = 500;
const PROCESS_RUNS: usize = 20;

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
    let hooks = paved_app::scaffold::foreign::hooks::Hooks::refused(&std::env::temp_dir(), "bench");
    for t in templates.iter() {
        let files = render(t, &resolve(t, &given).expect("values"), &hooks)
            .expect("render")
            .files;
        let bytes: usize = files.iter().map(|f| f.contents.len()).sum();
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let values = resolve(t, &given).expect("values");
                let rendered = render(t, &values, &hooks).expect("render");
                std::hint::black_box(rendered);
                start.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "render {:<15} {} files, {bytes} bytes: median {:.3} ms, p99 {:.3} ms ({RUNS} runs)",
            t.name,
            files.len(),
            ms(times[RUNS / 2]),
            ms(times[RUNS * 99 / 100]),
        );
        whole_process(&t.name, &given);
    }
}

/// `paved render` run [`PROCESS_RUNS`] times into fresh directories.
fn whole_process(template: &str, given: &BTreeMap<String, String>) {
    let out = std::env::temp_dir().join(format!("paved-bench-render-{}", std::process::id()));
    let mut times: Vec<Duration> = (0..PROCESS_RUNS)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&out);
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_paved"));
            cmd.args(["render", "--template", template, "--out"])
                .arg(&out)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            for (k, v) in given {
                cmd.arg("--set").arg(format!("{k}={v}"));
            }
            let start = Instant::now();
            let status = cmd.output().expect("paved render runs").status;
            assert!(status.success(), "paved render failed: {status}");
            start.elapsed()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&out);
    times.sort();
    println!(
        "paved render --template {template} (whole process): median {:.1} ms, max {:.1} ms ({PROCESS_RUNS} runs)",
        ms(times[PROCESS_RUNS / 2]),
        ms(times[PROCESS_RUNS - 1]),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
