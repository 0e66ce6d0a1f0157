//! Notifications: the plan finds the trader. When a plan is proposed, approved, executed,
//! partially fails or is abandoned, when the kill switch changes and when the data goes stale,
//! a message (the plan's summary and a link to it) goes to every configured channel: JSON
//! webhooks ([`webhook`], also in Slack's and Discord's shapes) and e-mail over SMTP
//! ([`email`]).
//!
//! Delivery never blocks the caller: [`Notifier::send`] spawns one task per channel and returns.
//! Each channel receives its messages in the order they were sent (a "plan done" must not
//! arrive after the "kill switch on" that followed it); one slow channel never holds up another.
//! Each task records the delivery in the `notifications` table (`pending`, then `sent` or
//! `failed` with the attempt count and the last error, `migrations/0110_notifications.sql`) and
//! retries with exponential backoff ([`settings::RetrySettings`]) while the failure may pass
//! (timeouts, 5xx, 429, SMTP 4xx). A one-shot command waits for its deliveries with
//! [`Notifier::flush`] before it exits.

pub mod email;
pub mod message;
pub mod settings;
pub mod webhook;

pub use message::{Message, PlanDigest};
pub use settings::NotifySettings;

use crate::store::Store;
use sqlx::Row;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    /// Whether another attempt may succeed.
    pub retryable: bool,
    pub message: String,
    /// The receiver asked to wait this long (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError {
            retryable: true,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn fatal(message: impl Into<String>) -> SendError {
        SendError {
            retryable: false,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// A place messages go.
#[derive(Debug)]
pub enum Channel {
    Webhook(webhook::Webhook),
    Email(email::Email),
}

impl Channel {
    fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook(_) => "webhook",
            Channel::Email(_) => "email",
        }
    }
    /// The name records and logs use (never a URL or a credential).
    pub fn label(&self) -> &str {
        match self {
            Channel::Webhook(w) => &w.label,
            Channel::Email(e) => &e.label,
        }
    }
    async fn send(&self, msg: &Message) -> Result<(), SendError> {
        match self {
            Channel::Webhook(w) => w.send(msg).await,
            Channel::Email(e) => e.send(msg).await,
        }
    }
}

/// Sends messages to the configured channels in the background and records every delivery.
pub struct Notifier {
    store: Arc<Store>,
    settings: NotifySettings,
    public_url: Option<String>,
    channels: Vec<Arc<Channel>>,
    in_flight: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Per channel, the end of the last delivery started: the next one waits for it.
    tails: Mutex<Vec<Option<tokio::sync::oneshot::Receiver<()>>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("public_url", &self.public_url)
            .field("channels", &self.channels)
            .finish()
    }
}

/// Reads an environment variable the settings name; `what` says which key named it.
fn secret(env: &dyn Fn(&str) -> Option<String>, var: &str, what: &str) -> Result<String, String> {
    match env(var) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(format!("{what}: the environment variable {var} is not set")),
    }
}

impl Notifier {
    /// A notifier with no channels: [`Notifier::send`] does nothing.
    pub fn disabled(store: Arc<Store>) -> Notifier {
        Notifier {
            store,
            settings: NotifySettings::default(),
            public_url: None,
            channels: Vec::new(),
            in_flight: Mutex::new(Vec::new()),
            tails: Mutex::new(Vec::new()),
        }
    }

    /// The channels of `settings`, with their secrets read through `env` (the process
    /// environment in production: `|k| std::env::var(k).ok()`). `default_public_url` is used
    /// when the settings give none (the address `serve` listens on).
    ///
    /// # Errors
    /// Invalid settings, or a channel whose environment variable is missing: a channel the
    /// settings ask for that cannot send is an error at start, not a silent gap.
    pub fn new(
        store: Arc<Store>,
        settings: &NotifySettings,
        default_public_url: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Notifier, String> {
        settings.validate()?;
        let mut channels = Vec::new();
        for (i, w) in settings.webhooks.iter().enumerate() {
            let key = format!("notify.webhooks[{i}]");
            let url = secret(env, &w.url_env, &format!("{key}.url_env"))?;
            let bearer = match &w.bearer_token_env {
                Some(var) => Some(secret(env, var, &format!("{key}.bearer_token_env"))?),
                None => None,
            };
            let hook = webhook::Webhook::new(
                w.name.as_deref(),
                &url,
                w.format,
                bearer,
                Duration::from_secs(w.timeout_secs),
            )
            .map_err(|e| format!("{key} ({}): {e}", w.url_env))?;
            channels.push(Arc::new(Channel::Webhook(hook)));
        }
        if let Some(m) = &settings.email {
            let credentials = match (&m.username_env, &m.password_env) {
                (Some(u), Some(p)) => Some((
                    secret(env, u, "notify.email.username_env")?,
                    secret(env, p, "notify.email.password_env")?,
                )),
                _ => None,
            };
            channels.push(Arc::new(Channel::Email(email::Email::new(m, credentials)?)));
        }
        let public_url = settings
            .public_url
            .clone()
            .or_else(|| default_public_url.map(str::to_string))
            .map(|u| u.trim_end_matches('/').to_string());
        let tails = Mutex::new(channels.iter().map(|_| None).collect());
        Ok(Notifier {
            store,
            settings: settings.clone(),
            public_url,
            channels,
            in_flight: Mutex::new(Vec::new()),
            tails,
        })
    }

    /// The dashboard's address messages link to.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// Whether any message would be sent.
    pub fn is_enabled(&self) -> bool {
        !self.channels.is_empty()
    }

    /// The channels' labels.
    pub fn channels(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|c| c.label().to_string())
            .collect()
    }

    /// Sends `msg` to every channel in the background (if its event is wanted) and returns at
    /// once. Must be called inside a Tokio runtime.
    pub fn send(&self, msg: Message) {
        if self.channels.is_empty() || !self.settings.wants(&msg.event) {
            return;
        }
        let msg = Arc::new(msg);
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let mut tails = self.tails.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.retain(|h| !h.is_finished());
        for (ch, tail) in self.channels.iter().zip(tails.iter_mut()) {
            let (store, ch, msg, retry) = (
                self.store.clone(),
                ch.clone(),
                msg.clone(),
                self.settings.retry.clone(),
            );
            let (done, next) = tokio::sync::oneshot::channel::<()>();
            let before = tail.replace(next);
            in_flight.push(tokio::spawn(async move {
                deliver(&store, &ch, &msg, &retry, before).await;
                let _ = done.send(());
            }));
        }
    }

    /// Waits until every delivery started so far has ended (sent or failed), at most
    /// `timeout`; returns whether all ended.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let handles: Vec<_> = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *in_flight)
        };
        let all = async {
            for h in handles {
                let _ = h.await;
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One delivery: record, wait for the channel's previous delivery (`before`) to end, try,
/// back off, record the end.
async fn deliver(
    store: &Store,
    ch: &Channel,
    msg: &Message,
    retry: &settings::RetrySettings,
    before: Option<tokio::sync::oneshot::Receiver<()>>,
) {
    let id = crate::ids::new_id("n", now_ms());
    let records = Deliveries { store };
    if let Err(e) = records.start(&id, msg, ch).await {
        // Sending matters more than its record.
        tracing::warn!(error = %e, channel = ch.label(), "recording a notification failed");
    }
    if let Some(before) = before {
        // An error means the previous task ended without saying so (it panicked or its
        // runtime stopped): either way it no longer sends, so this one may.
        let _ = before.await;
    }
    let mut attempt = 0;
    // Kept on success too: "sent on the third try, after 503s" is worth knowing.
    let mut last_error: Option<String> = None;
    loop {
        attempt += 1;
        match ch.send(msg).await {
            Ok(()) => {
                tracing::info!(event = %msg.event, channel = ch.label(), attempt, "notification sent");
                let _ = records
                    .finish(&id, "sent", attempt, last_error.as_deref())
                    .await;
                return;
            }
            Err(e) => {
                let last = !e.retryable || attempt >= retry.attempts;
                if last {
                    tracing::error!(event = %msg.event, channel = ch.label(), attempt,
                        error = %e.message, "notification failed");
                    let _ = records
                        .finish(&id, "failed", attempt, Some(&e.message))
                        .await;
                    return;
                }
                let wait = Duration::from_millis(retry.backoff_ms(attempt))
                    .max(e.retry_after.unwrap_or_default())
                    .min(Duration::from_millis(retry.max_backoff_ms));
                tracing::warn!(event = %msg.event, channel = ch.label(), attempt,
                    error = %e.message, retry_in_ms = wait.as_millis() as u64,
                    "notification attempt failed; retrying");
                let _ = records
                    .finish(&id, "pending", attempt, Some(&e.message))
                    .await;
                last_error = Some(e.message);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The `notifications` table.
pub struct Deliveries<'a> {
    pub store: &'a Store,
}

impl Deliveries<'_> {
    async fn start(&self, id: &str, msg: &Message, ch: &Channel) -> Result<(), sqlx::Error> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO notifications (id, created_at, event, subject, title, channel, destination, status, attempts, last_error, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, NULL, $8)",
        )
        .bind(id.to_string())
        .bind(now)
        .bind(msg.event.clone())
        .bind(msg.plan.as_ref().map(|p| p.id.clone()))
        .bind(msg.title.clone())
        .bind(ch.kind())
        .bind(ch.label().to_string())
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    async fn finish(
        &self,
        id: &str,
        status: &str,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications SET status = $1, attempts = $2, last_error = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(status.to_string())
        .bind(i64::from(attempts))
        .bind(error.map(str::to_string))
        .bind(now_ms())
        .bind(id.to_string())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The newest deliveries first.
    ///
    /// # Errors
    /// Database failure.
    pub async fn recent(
        &self,
        limit: i64,
    ) -> Result<Vec<app::api::NotificationRecord>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, created_at, event, subject, title, channel, destination, status, attempts, last_error, updated_at \
             FROM notifications ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(app::api::NotificationRecord {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    event: r.try_get("event")?,
                    subject: r.try_get("subject")?,
                    title: r.try_get("title")?,
                    channel: r.try_get("channel")?,
                    destination: r.try_get("destination")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    last_error: r.try_get("last_error")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }
}
