//! Settings: what starts, what stops startup with one clear line, and that
//! secrets never print.

mod common;

use std::io::Write;

use common::{key, settings};
use paved_app::config::{Config, Source};

fn load(overrides: &[(&str, &str)]) -> Result<Config, String> {
    Config::load(&Source::from_pairs(settings(overrides))).map_err(|e| e.to_string())
}

fn without(var: &str) -> Result<Config, String> {
    let pairs: Vec<_> = settings(&[])
        .into_iter()
        .filter(|(k, _)| *k != var)
        .collect();
    Config::load(&Source::from_pairs(pairs)).map_err(|e| e.to_string())
}

#[test]
fn defaults_follow_github_app_conventions() {
    let pairs: Vec<_> = settings(&[])
        .into_iter()
        .filter(|(k, _)| *k != "PAVED_LISTEN")
        .collect();
    let c = Config::load(&Source::from_pairs(pairs)).unwrap();
    assert_eq!(c.github_api_url, "https://api.github.com");
    assert_eq!(c.listen.to_string(), "0.0.0.0:3000");
    assert_eq!(c.webhook_path, "/webhook");
    assert_eq!(c.catalog_repo.to_string(), "acme/catalog");
    assert_eq!(c.app_id, 77);
}

#[test]
fn each_missing_setting_is_named() {
    for (var, expected) in [
        (
            "APP_ID",
            "APP_ID is not set: expected the GitHub App's numeric id",
        ),
        (
            "WEBHOOK_SECRET",
            "WEBHOOK_SECRET is not set: expected the webhook secret (a comma-separated list while rotating)",
        ),
        (
            "PAVED_CATALOG_REPO",
            "PAVED_CATALOG_REPO is not set: expected a repository as owner/name",
        ),
        (
            "PAVED_PLATFORM_REPO",
            "PAVED_PLATFORM_REPO is not set: expected a repository as owner/name",
        ),
        (
            "PRIVATE_KEY",
            "PRIVATE_KEY or PRIVATE_KEY_PATH is not set: expected the App's RSA private key in PEM",
        ),
    ] {
        assert_eq!(without(var).unwrap_err(), expected);
    }
}

#[test]
fn malformed_settings_are_one_line_naming_the_variable() {
    for (var, value) in [
        ("APP_ID", "seventy"),
        ("APP_ID", "0"),
        (
            "PRIVATE_KEY",
            "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----",
        ),
        ("WEBHOOK_SECRET", " , "),
        ("GITHUB_API_URL", "ftp://example.com"),
        ("PAVED_CATALOG_REPO", "catalog"),
        ("PAVED_PLATFORM_REPO", "acme/../etc"),
        ("PAVED_LISTEN", "3000"),
        ("PAVED_WEBHOOK_PATH", "webhook"),
        ("PAVED_QUEUE_CAPACITY", "0"),
    ] {
        let err = load(&[(var, value)]).unwrap_err();
        assert!(
            err.starts_with(&format!("{var} is invalid: expected ")),
            "{var}={value}: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn the_key_may_come_from_a_file_or_with_escaped_newlines() {
    let dir = common::TempDir::new("config-key");
    let path = dir.path().join("app.pem");
    std::fs::write(&path, &key().pem).unwrap();
    let pairs: Vec<_> = settings(&[])
        .into_iter()
        .filter(|(k, _)| *k != "PRIVATE_KEY")
        .collect();
    let mut pairs = pairs;
    let p = path.to_str().unwrap().to_owned();
    pairs.push(("PRIVATE_KEY_PATH", &p));
    assert!(Config::load(&Source::from_pairs(pairs)).is_ok());

    let escaped = key().pem.replace('\n', "\\n");
    assert!(load(&[("PRIVATE_KEY", &escaped)]).is_ok());

    let missing = load(&[("PRIVATE_KEY_PATH", "/nonexistent/key.pem")]);
    assert!(missing.is_ok(), "PRIVATE_KEY wins over PRIVATE_KEY_PATH");
    let pairs: Vec<_> = settings(&[("PRIVATE_KEY_PATH", "/nonexistent/key.pem")])
        .into_iter()
        .filter(|(k, _)| *k != "PRIVATE_KEY")
        .collect();
    let err = Config::load(&Source::from_pairs(pairs))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "PRIVATE_KEY_PATH is invalid: expected a readable PEM file (/nonexistent/key.pem"
        ),
        "{err}"
    );
}

#[test]
fn an_env_file_fills_in_beneath_the_environment() {
    let dir = common::TempDir::new("config-env");
    let path = dir.path().join("paved.env");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "# written by paved sandbox\nAPP_ID=99\nPAVED_WEBHOOK_PATH=/hooks/github\nexport GITHUB_API_URL=\"http://127.0.0.1:3001/\"").unwrap();
    let source = Source::from_pairs(settings(&[]).into_iter().filter(|(k, _)| *k != "APP_ID"))
        .with_env_file(&path)
        .unwrap();
    let c = Config::load(&source).unwrap();
    assert_eq!(c.app_id, 99);
    assert_eq!(c.webhook_path, "/hooks/github");
    assert_eq!(c.github_api_url, "http://127.0.0.1:3001");

    // The environment wins over the file.
    let source = Source::from_pairs(settings(&[("APP_ID", "5")]))
        .with_env_file(&path)
        .unwrap();
    assert_eq!(Config::load(&source).unwrap().app_id, 5);

    std::fs::write(&path, "APP_ID=1\nthis line is wrong\n").unwrap();
    let err = Source::from_pairs([])
        .with_env_file(&path)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, format!("{}:2: expected KEY=value", path.display()));
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let c = load(&[("WEBHOOK_SECRET", "s3cr3t-one,s3cr3t-two")]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(
        !debug.contains("PRIVATE KEY") && !debug.contains(&key().pem[40..80]),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"));
}
