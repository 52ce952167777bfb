//! Outgoing email: SMTP when `KAPU_SMTP_URL` is set, otherwise `.eml` files in
//! `KAPU_DATA_DIR/outbox/` (the embedded default).

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The shop this email speaks for, if any: it goes out as
    /// `"{shop} via {platform}" <platform address>`, so the shop's
    /// (merchant-chosen) name is never mistaken for the platform's.
    pub shop_name: Option<String>,
}

/// The sender a shop's email shows: the shop's name (without anything that
/// could pass for an address, at most 60 characters) "via" the platform's
/// name, at the platform's own address.
pub fn shop_sender(platform: &Mailbox, shop_name: &str) -> Mailbox {
    let clean: String =
        shop_name.chars().filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '@' | '"' | '\\')).take(60).collect();
    let via = platform.name.as_deref().filter(|n| !n.is_empty()).unwrap_or("Kapu");
    Mailbox::new(Some(format!("{} via {via}", clean.trim())), platform.email.clone())
}

/// Errors of building or sending mail.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build message: {0}")]
    Build(String),
    #[error("cannot send: {0}")]
    Send(String),
    #[error("bad SMTP URL: {0}")]
    Config(String),
}

#[derive(Clone)]
enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail through the configured transport.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::File(_) => "file",
            Transport::Smtp(_) => "smtp",
        };
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("transport", &kind).finish()
    }
}

impl Mailer {
    /// Writes `.eml` files into `dir` (created if missing).
    pub fn outbox(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir).map_err(|e| MailError::Config(format!("{}: {e}", dir.display())))?;
        Ok(Self { from: parse_mailbox(from)?, transport: Transport::File(AsyncFileTransport::new(dir)) })
    }

    /// Sends through the SMTP server of `url` (`smtp://user:pass@host:port`, `smtps://…`).
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let t =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| MailError::Config(e.to_string()))?.build();
        Ok(Self { from: parse_mailbox(from)?, transport: Transport::Smtp(t) })
    }

    /// Sends one message.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to = parse_mailbox(&mail.to)?;
        let from = match &mail.shop_name {
            Some(shop) => shop_sender(&self.from, shop),
            None => self.from.clone(),
        };
        let builder = Message::builder().from(from).to(to).subject(mail.subject.clone());
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone());
        let message = match &mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(text),
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::File(t) => t.send(message).await.map(|_| ()).map_err(|e| MailError::Send(e.to_string())),
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| MailError::Send(e.to_string())),
        }
    }
}

fn parse_mailbox(text: &str) -> Result<Mailbox, MailError> {
    text.parse::<Mailbox>().map_err(|_| MailError::Address(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shops_name_cannot_pass_for_an_address_or_the_platform() {
        let platform: Mailbox = "Kapu <no-reply@kapu.example>".parse().expect("mailbox");
        let m = shop_sender(&platform, "Support <help@bank.example>\r\nBcc: x@y.z");
        assert_eq!(m.email.to_string(), "no-reply@kapu.example");
        let name = m.name.expect("name");
        assert!(name.ends_with(" via Kapu"), "{name}");
        assert!(!name.contains('@') && !name.contains('<') && !name.contains('\n'), "{name}");
        assert!(
            shop_sender(&platform, &"长".repeat(200)).name.expect("name").chars().count() <= 60 + " via Kapu".len()
        );
    }
}
