//! E-mail delivery over SMTP (`lettre`): a plain-text message per notification, to every
//! configured recipient in one envelope.

use super::message::Message;
use super::settings::{EmailSettings, SmtpTls};
use super::SendError;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// A resolved e-mail channel.
pub struct Email {
    pub label: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("label", &self.label)
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish()
    }
}

impl Email {
    /// The channel `settings` describe, with the credentials already read from the environment.
    ///
    /// # Errors
    /// A bad address or an SMTP host the TLS setup refuses.
    pub fn new(
        settings: &EmailSettings,
        credentials: Option<(String, String)>,
    ) -> Result<Email, String> {
        let host = settings.smtp_host.trim();
        let port = settings
            .smtp_port
            .unwrap_or_else(|| settings.tls.default_port());
        let builder = match settings.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("notify.email: {host}: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("notify.email: {host}: {e}"))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(port)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let parse = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("notify.email: {a:?} is not an e-mail address: {e}"))
        };
        Ok(Email {
            label: format!("email:{host}:{port}"),
            transport: builder.build(),
            from: parse(&settings.from)?,
            to: settings
                .to
                .iter()
                .map(|a| parse(a))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The message as an e-mail: the title as subject, the lines and the link as plain text.
    ///
    /// # Errors
    /// lettre refuses to build it (it should not: the addresses were checked).
    pub fn mail(&self, msg: &Message) -> Result<lettre::Message, SendError> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(msg.title.clone());
        for to in &self.to {
            b = b.to(to.clone());
        }
        b.header(ContentType::TEXT_PLAIN)
            .body(msg.text())
            .map_err(|e| SendError::fatal(format!("building the e-mail: {e}")))
    }

    /// One attempt. SMTP's permanent refusals (5xx) are final; transient ones (4xx), timeouts
    /// and connection failures may pass later.
    pub async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let mail = self.mail(msg)?;
        match self.transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::fatal(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::retry(format!("SMTP: {e}"))),
        }
    }
}
