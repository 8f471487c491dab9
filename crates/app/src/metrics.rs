//! Prometheus metrics, named by Prometheus conventions (`paved_` prefix,
//! `_total` counters, `_seconds` durations) and held in one registry.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub webhooks_received: IntCounterVec,
    pub signature_failures: IntCounter,
    pub queue_depth: IntGauge,
    pub github_calls: IntCounterVec,
    pub github_call_seconds: HistogramVec,
    pub github_rate_limit_remaining: IntGaugeVec,
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
        let collectors: [Box<dyn prometheus::core::Collector>; 12] = [
            Box::new(self.webhooks_received.clone()),
            Box::new(self.signature_failures.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.github_calls.clone()),
            Box::new(self.github_call_seconds.clone()),
            Box::new(self.github_rate_limit_remaining.clone()),
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
