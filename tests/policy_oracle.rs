//! paved's policies give the verdicts an independent Rego implementation
//! gives: every case under `tests/policies/`, and the catalog's default set,
//! is evaluated by paved (regorus)
//! and by `regopy` (rego-cpp, through `scripts/policy_oracle.py`), and each
//! input must get the same `deny`, `violation` and `warn` messages, or an
//! error from both. Skipped, saying so, where Python has no regopy; CI
//! installs it and sets PAVED_REQUIRE_VALIDATORS=1.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use paved_app::policy::Policies;
use serde_json::{Value, json};

/// The policy files of `dir` (its tests left out), by name, and the
/// inputs in `inputs`.
fn case(dir: &Path, inputs: &Path) -> (Vec<(String, String)>, Vec<Value>) {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .filter(|p| !p.to_string_lossy().ends_with("_test.rego"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    let inputs = std::fs::read_to_string(inputs).unwrap();
    (files, serde_json::from_str(&inputs).unwrap())
}

/// paved's verdict on each input, in the oracle's shape.
fn paved(files: &[(String, String)], inputs: &[Value]) -> Vec<Value> {
    let policies = Policies::compile(files, &[]).unwrap();
    inputs
        .iter()
        .map(|input| match policies.evaluate(input) {
            Err(e) => json!({"error": e.to_string()}),
            Ok(verdict) => {
                let mut rules: BTreeMap<&str, Vec<String>> =
                    ["deny", "violation", "warn"].map(|r| (r, vec![])).into();
                for f in verdict.denied.iter().chain(&verdict.warned) {
                    let rule = f.rule.strip_prefix("main.").unwrap();
                    rules.get_mut(rule).unwrap().push(f.message.clone());
                }
                rules.values_mut().for_each(|m| m.sort());
                json!(rules)
            }
        })
        .collect()
}

/// regopy's verdict on each input; `None` when Python has no regopy.
fn oracle(files: &[(String, String)], inputs: &[Value]) -> Option<Vec<Value>> {
    let script = common::workspace().join("scripts/policy_oracle.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let job = json!({"files": files, "inputs": inputs});
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        return None;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // rego-cpp may print its own diagnostics first: the answer is the last line.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let answer: Value = serde_json::from_str(last).unwrap();
    assert!(answer.get("compile_error").is_none(), "{answer}");
    Some(serde_json::from_value(answer).unwrap())
}

#[test]
fn every_case_gets_the_verdicts_regopy_gives() {
    let root = common::workspace().join("tests/policies");
    let mut cases: Vec<(std::path::PathBuf, std::path::PathBuf)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.clone(), p.join("inputs.json")))
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "{cases:?}");
    // And the catalog's default set, on manifests of every kind it reads.
    cases.push((
        common::workspace().join("catalog/policy"),
        root.join("defaults-inputs.json"),
    ));
    let mut compared = 0;
    for (dir, inputs) in cases {
        let (files, inputs) = case(&dir, &inputs);
        let ours = paved(&files, &inputs);
        let Some(theirs) = oracle(&files, &inputs) else {
            common::skip("python3 has no regopy module", "PAVED_REQUIRE_VALIDATORS");
            return;
        };
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let both_erred = a.get("error").is_some() && b.get("error").is_some();
            assert!(
                both_erred || a == b,
                "{} input {i}: paved {a} but regopy {b}",
                dir.display()
            );
        }
        assert_eq!(ours.len(), theirs.len());
        compared += inputs.len();
    }
    eprintln!("{compared} inputs: the same verdicts");
    assert!(compared >= 10);
}
