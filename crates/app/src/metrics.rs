//! Prometheus metrics, named by Prometheus conventions (`paved_` prefix,
//! `_total` counters, `_seconds` durations) and held in one registry.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Label values known before anything happens. The call sites use the same
/// values (each has a test that says so).
pub mod labels {
    /// What became of a webhook delivery.
    pub const WEBHOOK_OUTCOMES: [&str; 11] = [
        "queued",
        "duplicate",
        "pong",
        "ignored",
        "bad_signature",
        "bad_request",
        "too_large",
        "slow_body",
        "busy",
        "queue_full",
        "shutting_down",
    ];
    /// What became of a service request.
    pub const PROVISIONING_OUTCOMES: [&str; 4] = ["ready", "failed", "invalid", "refused"];
    /// What became of a command.
    pub const COMMAND_OUTCOMES: [&str; 4] = ["done", "failed", "denied", "invalid"];
    /// A request's template, or a command, that is not known.
    pub const UNKNOWN: &str = "unknown";
    /// The status of a GitHub call that got no answer.
    pub const NO_ANSWER: &str = "error";
}

pub struct Metrics {
    registry: Registry,
    pub webhooks_received: IntCounterVec,
    pub signature_failures: IntCounter,
    pub queue_depth: IntGauge,
    pub github_calls: IntCounterVec,
    pub github_call_seconds: HistogramVec,
    pub github_rate_limit_remaining: IntGaugeVec,
    pub github_pace_seconds: Histogram,
    pub provisioning_requests: IntCounterVec,
    pub provisioning_seconds: HistogramVec,
    pub jobs_running: IntGauge,
    pub platform_commits: IntCounter,
    pub platform_push_retries: IntCounter,
    pub commands: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = Self {
            webhooks_received: IntCounterVec::new(
                Opts::new(
                    "paved_webhooks_received_total",
                    "Webhook deliveries by event and outcome.",
                ),
                &["event", "outcome"],
            )
            .expect("metric"),
            signature_failures: IntCounter::new(
                "paved_webhook_signature_failures_total",
                "Deliveries refused for a missing, malformed or wrong signature.",
            )
            .expect("metric"),
            queue_depth: IntGauge::new("paved_queue_depth", "Jobs waiting in the queue.")
                .expect("metric"),
            github_calls: IntCounterVec::new(
                Opts::new(
                    "paved_github_api_calls_total",
                    "GitHub API calls by operation and status.",
                ),
                &["operation", "status"],
            )
            .expect("metric"),
            github_call_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "paved_github_api_call_duration_seconds",
                    "GitHub API call latency.",
                )
                .buckets(vec![
                    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
                &["operation"],
            )
            .expect("metric"),
            github_rate_limit_remaining: IntGaugeVec::new(
                Opts::new(
                    "paved_github_rate_limit_remaining",
                    "Requests left in the current rate-limit window, per installation.",
                ),
                &["installation"],
            )
            .expect("metric"),
            github_pace_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "paved_github_pace_wait_seconds",
                    "Time GitHub calls waited for room under GitHub's secondary limits.",
                )
                .buckets(vec![0.001, 0.01, 0.1, 1.0, 5.0, 15.0, 30.0, 60.0]),
            )
            .expect("metric"),
            provisioning_requests: IntCounterVec::new(
                Opts::new(
                    "paved_provisioning_requests_total",
                    "Service requests by template and outcome (ready, failed, invalid, refused).",
                ),
                &["template", "outcome"],
            )
            .expect("metric"),
            provisioning_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "paved_provisioning_duration_seconds",
                    "Time from a request being taken to its service being ready.",
                )
                .buckets(vec![
                    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                ]),
                &["template"],
            )
            .expect("metric"),
            jobs_running: IntGauge::new("paved_jobs_running", "Reconcile jobs running now.")
                .expect("metric"),
            platform_commits: IntCounter::new(
                "paved_platform_commits_total",
                "Commits pushed to the platform repository.",
            )
            .expect("metric"),
            platform_push_retries: IntCounter::new(
                "paved_platform_push_retries_total",
                "Platform pushes refused because main moved, then re-applied.",
            )
            .expect("metric"),
            commands: IntCounterVec::new(
                Opts::new(
                    "paved_commands_total",
                    "Slash-commands by command and outcome.",
                ),
                &["command", "outcome"],
            )
            .expect("metric"),
            registry,
        };
        m.register_all();
        m
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 13] = [
            Box::new(self.webhooks_received.clone()),
            Box::new(self.signature_failures.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.github_calls.clone()),
            Box::new(self.github_call_seconds.clone()),
            Box::new(self.github_rate_limit_remaining.clone()),
            Box::new(self.github_pace_seconds.clone()),
            Box::new(self.provisioning_requests.clone()),
            Box::new(self.provisioning_seconds.clone()),
            Box::new(self.jobs_running.clone()),
            Box::new(self.platform_commits.clone()),
            Box::new(self.platform_push_retries.clone()),
            Box::new(self.commands.clone()),
        ];
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        self.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metrics register once");
    }

    /// Creates every series of a labelled metric whose label values are
    /// known at start at zero, so dashboards and alerts have data from the
    /// first scrape, as Prometheus's instrumentation guidance asks. (The
    /// rate-limit gauge waits for the first answer, which names the
    /// installation: the start-up resync's.)
    pub fn preset<'a>(&self, templates: impl IntoIterator<Item = &'a str>) {
        use labels::*;
        let events = crate::webhook::event::EVENTS.iter().copied();
        for event in events.chain(["other"]) {
            for outcome in WEBHOOK_OUTCOMES {
                self.webhooks_received.with_label_values(&[event, outcome]);
            }
        }
        for operation in crate::github::OPERATIONS {
            self.github_call_seconds.with_label_values(&[operation]);
            self.github_calls.with_label_values(&[operation, NO_ANSWER]);
        }
        for template in templates.into_iter().chain([UNKNOWN]) {
            self.provisioning_seconds.with_label_values(&[template]);
            for outcome in PROVISIONING_OUTCOMES {
                self.provisioning_requests
                    .with_label_values(&[template, outcome]);
            }
        }
        let kinds = crate::commands::Kind::ALL.map(|k| k.name());
        for command in kinds.into_iter().chain([UNKNOWN]) {
            for outcome in COMMAND_OUTCOMES {
                self.commands.with_label_values(&[command, outcome]);
            }
        }
    }

    /// The registry in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn preset_series_exist_at_zero() {
        let m = super::Metrics::new();
        m.preset(["node-express"]);
        let text = m.render();
        for series in [
            r#"paved_webhooks_received_total{event="issues",outcome="queued"} 0"#,
            r#"paved_github_api_calls_total{operation="issues/get",status="error"} 0"#,
            r#"paved_github_api_call_duration_seconds_count{operation="repos/create-in-org"} 0"#,
            r#"paved_provisioning_requests_total{outcome="ready",template="node-express"} 0"#,
            r#"paved_provisioning_duration_seconds_count{template="unknown"} 0"#,
            r#"paved_commands_total{command="rollback",outcome="denied"} 0"#,
        ] {
            assert!(
                text.lines().any(|l| l == series),
                "{series} missing from\n{text}"
            );
        }
    }
}
