//! Webhook deliveries: queued in order, POSTed by one background task with
//! GitHub's headers and signature, recorded, and redeliverable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::ids;
use super::state::Time;
use crate::secret::Secret;

/// One delivery attempt as recorded by the sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Position in the delivery list, used to redeliver.
    pub id: u64,
    /// `X-GitHub-Delivery`.
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub redelivery: bool,
    pub queued_at: Time,
    /// The receiver's status code, once delivered.
    pub status_code: Option<u16>,
    /// Why the delivery failed, when it did not reach the receiver.
    pub error: Option<String>,
    #[serde(skip)]
    pub body: Bytes,
}

impl Delivery {
    pub fn payload(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

pub struct Hooks {
    /// Where deliveries go; with none, as for an App without a webhook URL
    /// on GitHub, events make no deliveries.
    url: Mutex<Option<String>>,
    secret: Secret,
    log: Mutex<Vec<Delivery>>,
    queue: mpsc::UnboundedSender<u64>,
    /// How many deliveries have been attempted so far; lets callers wait for the queue.
    done: watch::Sender<u64>,
}

/// GitHub's User-Agent carries a short hex id after the slash.
const USER_AGENT: &str = "GitHub-Hookshot/5a4e1c7";
const TIMEOUT: Duration = Duration::from_secs(10);

impl Hooks {
    /// Creates the queue and spawns its sender task.
    pub fn start(url: Option<String>, secret: Secret) -> Arc<Self> {
        let (queue, mut rx) = mpsc::unbounded_channel::<u64>();
        let hooks = Arc::new(Self {
            url: Mutex::new(url),
            secret,
            log: Mutex::new(Vec::new()),
            queue,
            done: watch::channel(0).0,
        });
        let weak = Arc::downgrade(&hooks);
        tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(TIMEOUT).build();
            while let Some(id) = rx.recv().await {
                let Some(hooks) = weak.upgrade() else { break };
                let outcome = match &client {
                    Ok(client) => hooks.send(client, id).await,
                    Err(e) => Err(e.to_string()),
                };
                hooks.record(id, outcome);
                hooks.done.send_modify(|n| *n += 1);
            }
        });
        hooks
    }

    /// Points deliveries at `url` from now on (GitHub's "Update a webhook
    /// configuration for an app").
    pub fn set_url(&self, url: Option<String>) {
        *self.url.lock().unwrap() = url;
    }

    /// Queues `payload` as event `event`, when there is a URL to deliver to.
    pub fn enqueue(&self, event: &str, payload: &serde_json::Value) {
        if self.url.lock().unwrap().is_none() {
            return;
        }
        let action = payload["action"].as_str().map(str::to_string);
        let body = Bytes::from(serde_json::to_vec(payload).expect("JSON values serialize"));
        self.new_delivery(event.to_string(), action, body);
    }

    /// Sends delivery `id` again with the same GUID and body, as GitHub's
    /// "Redeliver" does (receivers dedupe on the GUID).
    pub fn redeliver(&self, id: u64) -> Option<u64> {
        let original = self.log.lock().unwrap().get(id as usize).cloned()?;
        Some(self.push(Delivery {
            redelivery: true,
            ..original
        }))
    }

    fn new_delivery(&self, event: String, action: Option<String>, body: Bytes) -> u64 {
        self.push(Delivery {
            id: 0,
            guid: ids::uuid(),
            event,
            action,
            redelivery: false,
            queued_at: chrono::Utc::now(),
            status_code: None,
            error: None,
            body,
        })
    }

    fn push(&self, delivery: Delivery) -> u64 {
        let mut log = self.log.lock().unwrap();
        let id = log.len() as u64;
        log.push(Delivery {
            id,
            queued_at: chrono::Utc::now(),
            status_code: None,
            error: None,
            ..delivery
        });
        // The receiver only stops when the sandbox is gone.
        let _ = self.queue.send(id);
        id
    }

    pub fn list(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until every delivery queued so far has been attempted, or `limit` passes.
    pub async fn settle(&self, limit: Duration) -> bool {
        let queued = self.log.lock().unwrap().len() as u64;
        let mut done = self.done.subscribe();
        tokio::time::timeout(limit, done.wait_for(|n| *n >= queued))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    async fn send(&self, client: &reqwest::Client, id: u64) -> Result<u16, String> {
        let Some(url) = self.url.lock().unwrap().clone() else {
            return Err("no webhook URL configured".into());
        };
        let delivery = self.log.lock().unwrap()[id as usize].clone();
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .header("x-github-event", &delivery.event)
            .header("x-github-delivery", &delivery.guid)
            .header("x-github-hook-installation-target-type", "integration")
            .header("x-hub-signature-256", sign(&self.secret, &delivery.body))
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(response.status().as_u16())
    }

    fn record(&self, id: u64, outcome: Result<u16, String>) {
        let mut log = self.log.lock().unwrap();
        let delivery = &mut log[id as usize];
        match outcome {
            Ok(status) => delivery.status_code = Some(status),
            Err(error) => {
                tracing::warn!(event = %delivery.event, %error, "webhook delivery failed");
                delivery.error = Some(error);
            }
        }
    }
}

/// `X-Hub-Signature-256` as GitHub computes it: `sha256=` and the lowercase
/// hex HMAC-SHA256 of the body under the webhook secret.
fn sign(secret: &Secret, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
