//! Webhook delivery: one POST of a JSON body, in Lockstep's own shape or the one Slack's and
//! Discord's incoming webhooks take.

use super::message::Message;
use super::settings::PayloadFormat;
use super::SendError;
use std::time::Duration;

/// A resolved webhook: its URL (a secret: never logged or recorded), body shape and token.
pub struct Webhook {
    pub label: String,
    url: reqwest::Url,
    format: PayloadFormat,
    bearer: Option<String>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("label", &self.label)
            .field("url", &"<redacted>")
            .field("format", &self.format)
            .finish()
    }
}

/// Discord refuses a `content` longer than this.
const DISCORD_MAX: usize = 2000;

/// Slack's mrkdwn reserves `&`, `<` and `>`.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body for `format`.
pub fn payload(format: PayloadFormat, msg: &Message) -> serde_json::Value {
    match format {
        PayloadFormat::Json => serde_json::json!({
            "event": msg.event,
            "title": msg.title,
            "text": msg.text(),
            "link": msg.link,
            "plan": msg.plan,
            "at": msg.at,
        }),
        PayloadFormat::Slack => {
            let mut text = format!(
                "*{}*\n{}",
                slack_escape(&msg.title),
                slack_escape(&msg.lines.join("\n"))
            );
            if let Some(l) = &msg.link {
                text.push_str(&format!("\n<{l}|Open in Lockstep>"));
            }
            serde_json::json!({ "text": text })
        }
        PayloadFormat::Discord => {
            let link = msg
                .link
                .as_ref()
                .map(|l| format!("\n{l}"))
                .unwrap_or_default();
            let mut body = format!("**{}**\n{}", msg.title, msg.lines.join("\n"));
            let room = DISCORD_MAX.saturating_sub(link.chars().count());
            if body.chars().count() > room {
                body = body.chars().take(room.saturating_sub(1)).collect();
                body.push('…');
            }
            serde_json::json!({ "content": format!("{body}{link}") })
        }
    }
}

impl Webhook {
    /// A webhook posting to `url`.
    ///
    /// # Errors
    /// The URL does not parse or is not http(s); the HTTP client cannot be built.
    pub fn new(
        name: Option<&str>,
        url: &str,
        format: PayloadFormat,
        bearer: Option<String>,
        timeout: Duration,
    ) -> Result<Webhook, String> {
        // The URL's text stays out of the message: it may carry a token.
        let url = reqwest::Url::parse(url.trim())
            .map_err(|e| format!("the webhook URL does not parse: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the webhook URL must be http(s), not {}",
                url.scheme()
            ));
        }
        let label = match name {
            Some(n) => n.to_string(),
            None => format!("webhook:{}", url.host_str().unwrap_or("?")),
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("lockstep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Webhook {
            label,
            url,
            format,
            bearer,
            client,
        })
    }

    /// One attempt. 2xx is delivered; 408, 429 and 5xx, timeouts and connection failures may
    /// pass later; any other status is final.
    pub async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .json(&payload(self.format, msg));
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            // `without_url`: reqwest's message would quote the secret URL.
            Err(e) => return Err(SendError::retry(e.without_url().to_string())),
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let what = format!("HTTP {status}: {}", body.trim());
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(SendError {
                retryable: true,
                message: what,
                retry_after,
            })
        } else {
            Err(SendError::fatal(what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            event: "kill_switch".into(),
            title: "Kill <switch> & more".into(),
            lines: vec!["line one".into(), "line two".into()],
            link: Some("https://ls.example.com/".into()),
            plan: None,
            at: 5,
        }
    }

    #[test]
    fn payloads_in_each_shape() {
        let m = msg();
        let j = payload(PayloadFormat::Json, &m);
        assert_eq!(j["event"], "kill_switch");
        assert_eq!(j["text"], "line one\nline two\n\nhttps://ls.example.com/");
        assert_eq!(j["at"], 5);
        let s = payload(PayloadFormat::Slack, &m);
        assert_eq!(
            s["text"],
            "*Kill &lt;switch&gt; &amp; more*\nline one\nline two\n<https://ls.example.com/|Open in Lockstep>"
        );
        assert_eq!(s.as_object().unwrap().len(), 1);
        let d = payload(PayloadFormat::Discord, &m);
        assert_eq!(
            d["content"],
            "**Kill <switch> & more**\nline one\nline two\nhttps://ls.example.com/"
        );
        // Discord's limit keeps the link.
        let long = Message {
            lines: vec!["x".repeat(5000)],
            ..m
        };
        let c = payload(PayloadFormat::Discord, &long)["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(c.chars().count(), DISCORD_MAX);
        assert!(c.ends_with("…\nhttps://ls.example.com/"), "{c}");
    }

    #[test]
    fn the_url_never_shows() {
        let w = Webhook::new(
            None,
            "https://hooks.example.com/services/T000/SECRET",
            PayloadFormat::Slack,
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(w.label, "webhook:hooks.example.com");
        assert!(!format!("{w:?}").contains("SECRET"));
        let e = Webhook::new(
            None,
            "ftp://x/SECRET",
            PayloadFormat::Json,
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(!e.contains("SECRET"), "{e}");
    }
}
