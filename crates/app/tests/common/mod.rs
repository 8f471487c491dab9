//! Helpers shared by the integration tests: keys, settings, servers, signed
//! requests, fixtures, `../shared`, validators. paved's end-to-end stories
//! (the workspace root's `tests/`) include this file too.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use base64::Engine;
use paved_app::config::{Config, Source};
use paved_app::secret::Secret;
use paved_app::webhook::signature::sign;

pub const SECRET: &str = "test-webhook-secret";

/// An RSA key pair made once per test binary.
pub struct TestKey {
    pub pem: String,
    /// PKCS#1 `RSAPublicKey` DER, what `DecodingKey::from_rsa_der` takes.
    pub public_der: Vec<u8>,
}

pub fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(new_key)
}

/// A fresh RSA-2048 key pair.
pub fn new_key() -> TestKey {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("generate RSA key");
    let der = pair.as_der().expect("PKCS#8 DER");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    TestKey {
        pem,
        public_der: pair.public_key().as_ref().to_vec(),
    }
}

/// Complete, valid settings; `overrides` replace or add entries.
pub fn settings<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("APP_ID", "77"),
        ("PRIVATE_KEY", key().pem.as_str()),
        ("WEBHOOK_SECRET", SECRET),
        ("PAVED_CATALOG_REPO", "acme/catalog"),
        ("PAVED_PLATFORM_REPO", "acme/platform"),
        ("PAVED_LISTEN", "127.0.0.1:0"),
    ];
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    pairs
}

pub fn config(overrides: &[(&str, &str)]) -> Config {
    Config::load(&Source::from_pairs(settings(overrides))).expect("valid test settings")
}

/// Serves `router` on an ephemeral loopback port.
pub async fn spawn(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// The workspace's root, whichever of its packages the test belongs to.
pub fn workspace() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .find(|d| d.join("Cargo.lock").is_file())
            .expect("a workspace root holds Cargo.lock")
            .to_owned()
    })
}

pub fn fixture_path(name: &str) -> PathBuf {
    workspace()
        .join("crates/app/tests/fixtures/webhooks")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// `../shared/<rel>` beside the checkout, when it exists (CI has it; a fresh
/// clone may not). The skip is said; with `PAVED_REQUIRE_SHARED=1` (as in
/// `.ci/run`) it is a failure.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = workspace().join("../shared").join(rel);
    if p.exists() {
        return Some(p);
    }
    skip(
        &format!("{} is not here", p.display()),
        "PAVED_REQUIRE_SHARED",
    );
    None
}

/// Says a check is skipped, or fails when `required` (an env variable) is 1.
pub fn skip(why: &str, required: &str) {
    assert!(
        std::env::var(required).as_deref() != Ok("1"),
        "{why}, and {required}=1"
    );
    eprintln!("skipped: {why}");
}

/// Asserts Applications pass Argo CD's strict schema, where the schema and
/// Python's `jsonschema` are here (see [`argo_schema_errors`]).
pub fn assert_argo_valid(apps: &[serde_json::Value]) {
    if let Some(errors) = argo_schema_errors(apps) {
        assert!(errors.is_empty(), "{errors:?}");
    }
}

/// Posts a delivery the way GitHub does, signed with `secret`.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    delivery: &str,
    body: Vec<u8>,
    secret: &str,
) -> reqwest::Response {
    let signature = sign(&Secret::new(secret), &body);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/044aadd")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("delivery sent")
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("paved-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` at `rel`, creating folders.
    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The templates shipped in this repository.
pub fn shipped_templates() -> paved_app::scaffold::Templates {
    let dir = workspace().join("templates");
    paved_app::scaffold::Templates::load(&dir).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Checks Applications against Argo CD's Application schema with unknown
/// fields as errors (`../shared/argocd/application.strict.schema.json`),
/// using Python's `jsonschema`. `None` (and a note) when either is missing.
pub fn argo_schema_errors(apps: &[serde_json::Value]) -> Option<Vec<String>> {
    let schema = shared("argocd/application.strict.schema.json")?;
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    schema_errors(&schema, apps)
}

/// Each of `docs` checked against the JSON Schema `schema` by Python's
/// `jsonschema` (Draft 7): the errors, by document index and path; `None`
/// (the skip said) where Python has no `jsonschema`.
pub fn schema_errors(
    schema: &serde_json::Value,
    docs: &[serde_json::Value],
) -> Option<Vec<String>> {
    let program = "import json,sys\n\
        try:\n    import jsonschema\nexcept ImportError:\n    print('null'); sys.exit(0)\n\
        schema, docs = json.load(sys.stdin)\n\
        v=jsonschema.Draft7Validator(schema)\n\
        print(json.dumps([f'{i}: {\"/\".join(map(str,e.path))}: {e.message}' for i,d in enumerate(docs) for e in v.iter_errors(d)]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write as _;
    child
        .stdin
        .take()?
        .write_all(&serde_json::to_vec(&(schema, docs)).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Option<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    if errors.is_none() {
        skip(
            "python3 has no jsonschema module",
            "PAVED_REQUIRE_VALIDATORS",
        );
    }
    errors
}

/// A copy of the shipped node-express template that the test can change.
pub fn template_copy(dir: &Path) {
    let src = workspace().join("templates/node-express");
    copy_dir(&src, &dir.join("node-express"));
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Version `version` of the template: README gains a closing section,
/// src/app.js a new first line, and a runbook appears.
pub fn bump(dir: &Path, version: &str) {
    let t = dir.join("node-express");
    let spec = std::fs::read_to_string(t.join("template.yaml")).unwrap();
    let old = spec
        .lines()
        .find(|l| l.starts_with("version:"))
        .unwrap()
        .to_owned();
    std::fs::write(
        t.join("template.yaml"),
        spec.replace(&old, &format!("version: {version}")),
    )
    .unwrap();
    let readme = t.join("skeleton/README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(
        &readme,
        format!("{text}\n## Runbook {version}\n\nSee docs/RUNBOOK.md.\n"),
    )
    .unwrap();
    let app = t.join("skeleton/src/app.js");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, format!("// template {version}\n{text}")).unwrap();
    std::fs::create_dir_all(t.join("skeleton/docs")).unwrap();
    std::fs::write(
        t.join("skeleton/docs/RUNBOOK.md"),
        format!("# Runbook for {{{{ name }}}} ({version})\n"),
    )
    .unwrap();
    let log = t.join("CHANGELOG.md");
    let text = std::fs::read_to_string(&log).unwrap();
    let at = text.find("## ").unwrap();
    std::fs::write(
        &log,
        format!(
            "{}## {version}\n\n- A runbook.\n\n{}",
            &text[..at],
            &text[at..]
        ),
    )
    .unwrap();
}
