//! The `notify` section of the live settings: where messages go and which events send one.
//! Secrets (webhook URLs, which carry their token; bearer tokens; SMTP credentials) are named
//! here by the **environment variable** that holds them, never written in the file.

use serde::{Deserialize, Serialize};

/// Every event a notification can be sent for (the names `events` accepts).
pub const EVENTS: &[&str] = &[
    "plan.proposed",
    "plan.approved",
    "plan.done",
    "plan.partially_failed",
    "plan.abandoned",
    "kill_switch",
    "data.stale",
];

/// Notification settings; every key optional, nothing is sent without a channel.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// The dashboard's address as people open it (`https://lockstep.example.com`): messages link
    /// to `<public_url>/plans/<id>`. Default: the address `lockstep serve` listens on.
    pub public_url: Option<String>,
    /// Events that send a message (see [`EVENTS`]); empty = all of them.
    pub events: Vec<String>,
    pub webhooks: Vec<WebhookSettings>,
    pub email: Option<EmailSettings>,
    pub retry: RetrySettings,
}

/// One webhook: a POST of a JSON body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// What the delivery records call it (default: `webhook:<host>`); never the URL, which may
    /// carry a token.
    #[serde(default)]
    pub name: Option<String>,
    /// The environment variable holding the URL (Slack's and Discord's webhook URLs are
    /// secrets).
    pub url_env: String,
    /// The body's shape: `json` (Lockstep's own, every field), `slack` (`{"text": ...}`) or
    /// `discord` (`{"content": ...}`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// An environment variable holding a token sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// Seconds one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

/// The webhook body's shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    #[default]
    Json,
    Slack,
    Discord,
}

/// E-mail over SMTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub smtp_host: String,
    /// Default: 465 for `tls`, 587 for `starttls`, 25 for `none`.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Environment variables holding the SMTP user name and password (both or neither).
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// The sender, `Lockstep <lockstep@example.com>` or a bare address.
    pub from: String,
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// Seconds one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on this machine (credentials are refused elsewhere).
    None,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Delivery retries: `attempts` tries in all, waiting `initial_backoff_ms`, then twice that,
/// and so on, at most `max_backoff_ms` between two tries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    pub attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            attempts: 5,
            initial_backoff_ms: 2_000,
            max_backoff_ms: 120_000,
        }
    }
}

impl RetrySettings {
    /// The wait before try number `attempt + 1` (after `attempt` failures, 1-based).
    pub fn backoff_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64 << attempt.saturating_sub(1).min(30);
        self.initial_backoff_ms
            .saturating_mul(factor)
            .min(self.max_backoff_ms)
    }
}

impl NotifySettings {
    /// Whether anything can be sent at all.
    pub fn has_channels(&self) -> bool {
        !self.webhooks.is_empty() || self.email.is_some()
    }

    /// Whether `event` sends a message.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }

    /// Checks the section; the message names the key.
    ///
    /// # Errors
    /// An unknown event, a bad URL, an e-mail without recipients, a bad address, credentials in
    /// the clear to another machine, a zero attempt count.
    pub fn validate(&self) -> Result<(), String> {
        for e in &self.events {
            if !EVENTS.contains(&e.as_str()) {
                return Err(format!(
                    "notify.events: unknown event {e:?}; known: {}",
                    EVENTS.join(", ")
                ));
            }
        }
        if let Some(u) = &self.public_url {
            let parsed =
                reqwest::Url::parse(u).map_err(|e| format!("notify.public_url {u:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("notify.public_url {u:?}: must be http(s)"));
            }
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            if w.url_env.trim().is_empty() {
                return Err(format!(
                    "notify.webhooks[{i}].url_env: name the environment variable holding the URL"
                ));
            }
            if w.timeout_secs == 0 {
                return Err(format!("notify.webhooks[{i}].timeout_secs must be > 0"));
            }
        }
        if let Some(m) = &self.email {
            if m.smtp_host.trim().is_empty() {
                return Err("notify.email.smtp_host is empty".into());
            }
            if m.to.is_empty() {
                return Err("notify.email.to: at least one recipient".into());
            }
            for a in std::iter::once(&m.from).chain(&m.to) {
                a.parse::<lettre::message::Mailbox>()
                    .map_err(|e| format!("notify.email: {a:?} is not an e-mail address: {e}"))?;
            }
            if m.username_env.is_some() != m.password_env.is_some() {
                return Err(
                    "notify.email: give both username_env and password_env, or neither".into(),
                );
            }
            if m.tls == SmtpTls::None && m.password_env.is_some() && !is_loopback(&m.smtp_host) {
                return Err(format!(
                    "notify.email: tls \"none\" would send the SMTP password in the clear to {}; \
                     use starttls or tls",
                    m.smtp_host
                ));
            }
            if m.timeout_secs == 0 {
                return Err("notify.email.timeout_secs must be > 0".into());
            }
        }
        if self.retry.attempts == 0 {
            return Err("notify.retry.attempts must be >= 1".into());
        }
        if self.retry.initial_backoff_ms > self.retry.max_backoff_ms {
            return Err("notify.retry.initial_backoff_ms exceeds max_backoff_ms".into());
        }
        Ok(())
    }
}

/// `localhost` or a loopback IP.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let r = RetrySettings {
            attempts: 6,
            initial_backoff_ms: 100,
            max_backoff_ms: 500,
        };
        let waits: Vec<u64> = (1..=5).map(|a| r.backoff_ms(a)).collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
    }

    #[test]
    fn settings_parse_and_are_checked() {
        let s: NotifySettings = serde_json::from_str(
            r#"{"events": ["plan.proposed"], "webhooks": [{"url_env": "HOOK", "format": "slack"}],
                "email": {"smtp_host": "smtp.example.com", "from": "Lockstep <ls@example.com>",
                          "to": ["desk@example.com"], "username_env": "U", "password_env": "P"}}"#,
        )
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.webhooks[0].format, PayloadFormat::Slack);
        assert!(s.wants("plan.proposed") && !s.wants("kill_switch"));
        assert!(NotifySettings::default().wants("kill_switch"));

        let bad = |json: &str| {
            serde_json::from_str::<NotifySettings>(json)
                .map_err(|e| e.to_string())
                .and_then(|s| s.validate())
                .unwrap_err()
        };
        assert!(bad(r#"{"events": ["plan.sent"]}"#).contains("unknown event"));
        assert!(bad(r#"{"webhooks": [{"url": "https://x"}]}"#).contains("unknown field"));
        assert!(
            bad(r#"{"email": {"smtp_host": "h", "from": "a@b.c", "to": []}}"#)
                .contains("recipient")
        );
        assert!(
            bad(r#"{"email": {"smtp_host": "h", "from": "not an address", "to": ["a@b.c"]}}"#)
                .contains("not an e-mail address")
        );
        assert!(bad(
            r#"{"email": {"smtp_host": "mail.example.com", "tls": "none", "from": "a@b.c",
                "to": ["a@b.c"], "username_env": "U", "password_env": "P"}}"#
        )
        .contains("in the clear"));
        // A relay on this machine may be plain.
        let local: NotifySettings = serde_json::from_str(
            r#"{"email": {"smtp_host": "127.0.0.1", "tls": "none", "from": "a@b.c",
                "to": ["a@b.c"], "username_env": "U", "password_env": "P"}}"#,
        )
        .unwrap();
        local.validate().unwrap();
        assert!(bad(r#"{"retry": {"attempts": 0}}"#).contains("attempts"));
        assert!(bad(r#"{"public_url": "ftp://x"}"#).contains("http"));
    }
}
