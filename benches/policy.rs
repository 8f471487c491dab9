//! Policies: `cargo bench --bench policy`.
//! What the catalog's default policy set adds to a request: compiling it
//! (once per process, until the catalog changes), and for each shipped
//! template, judging the request and its scaffold's manifests (each alone
//! and all together), with and without building those manifests (render,
//! then kustomize as Argo CD would). Median and 99th percentile.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use paved_app::kustomize::{self, Overrides};
use paved_app::policy::Policies;
use paved_app::scaffold::{Templates, render, resolve};

const RUNS: usize = 300;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let templates = Templates::load(&root.join("templates")).expect("templates load");
    let mut files: Vec<(String, String)> = std::fs::read_dir(root.join("catalog/policy"))
        .expect("the default policies")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .map(|p| {
            let name = format!("policy/{}", p.file_name().unwrap().to_string_lossy());
            (name, std::fs::read_to_string(&p).expect("policy"))
        })
        .collect();
    files.sort();
    let started = Instant::now();
    let policies = Policies::compile(&files, &[]).expect("the default set compiles");
    let own = files
        .iter()
        .filter(|(p, _)| !p.ends_with("_test.rego"))
        .count();
    println!(
        "compile the default set ({own} files, their tests left out): {:.2} ms",
        ms(started.elapsed())
    );
    let given: BTreeMap<String, String> = [
        ("name", "billing-api"),
        ("description", "Bills customers once a month."),
        ("owner", "@acme/payments"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let request = serde_json::json!({
        "kind": "request", "name": "billing-api", "template": "python-fastapi",
        "description": "Bills customers once a month.", "owner": "@acme/payments",
        "parameters": {},
        "requester": {"login": "writer", "member": true, "permission": "write"},
    });
    let overrides = Overrides {
        image: "ghcr.io/acme/billing-api",
        tag: "0000000000000000000000000000000000000000",
        workload: "billing-api",
        replicas: 1,
    };
    let hooks = paved_app::scaffold::foreign::hooks::Hooks::refused(&std::env::temp_dir(), "bench");
    for t in templates.iter() {
        let build = || {
            let values = resolve(t, &given).expect("values");
            let files: Vec<(String, Vec<u8>)> = render(t, &values, &hooks)
                .expect("render")
                .files
                .into_iter()
                .map(|f| (f.path, f.contents))
                .collect();
            kustomize::build(&files, "k8s", &overrides).expect("manifests")
        };
        let manifests = build();
        let judged = policies.judge(&request, &manifests).expect("judged");
        assert!(judged.denied.is_empty(), "{:?}", judged.denied);
        let judge = time(|| {
            std::hint::black_box(policies.judge(&request, &manifests).expect("judged"));
        });
        let whole = time(|| {
            let manifests = build();
            std::hint::black_box(policies.judge(&request, &manifests).expect("judged"));
        });
        println!(
            "{:<15} {} manifests: judge median {:.3} ms, p99 {:.3} ms; with render and build median {:.3} ms, p99 {:.3} ms ({RUNS} runs)",
            t.name,
            manifests.len(),
            ms(judge.0),
            ms(judge.1),
            ms(whole.0),
            ms(whole.1),
        );
    }
}

/// The median and 99th percentile of `RUNS` runs of `run`.
fn time(mut run: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[RUNS / 2], times[RUNS * 99 / 100])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
