//! The `paved` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use paved::config::{Config, Source};

#[derive(Parser)]
#[command(
    name = "paved",
    version,
    about = "A GitOps-native Internal Developer Platform that lives inside GitHub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GitHub App webhook server.
    ///
    /// Settings come from the environment (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH,
    /// WEBHOOK_SECRET, GITHUB_API_URL, PAVED_CATALOG_REPO, PAVED_PLATFORM_REPO,
    /// PAVED_LISTEN, PAVED_WEBHOOK_PATH, PAVED_QUEUE_CAPACITY); see the README.
    Serve {
        /// Also read settings from this file of KEY=value lines (the environment wins).
        #[arg(long, value_name = "PATH")]
        env_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve { env_file } => serve(env_file),
    }
}

fn serve(env_file: Option<PathBuf>) -> ExitCode {
    let config = match load_config(env_file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("paved: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(paved::server::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paved: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(env_file: Option<PathBuf>) -> Result<Config, paved::config::ConfigError> {
    let mut source = Source::from_process();
    if let Some(path) = env_file {
        source = source.with_env_file(&path)?;
    }
    Config::load(&source)
}

/// Human-readable logs by default, JSON with `PAVED_LOG_FORMAT=json`;
/// the level comes from `RUST_LOG` (default `info`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("PAVED_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}
