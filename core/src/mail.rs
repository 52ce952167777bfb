//! Outgoing email: SMTP when `KAPU_SMTP_URL` is set, otherwise `.eml` files in
//! `KAPU_DATA_DIR/outbox/` (the embedded default).
//!
//! A job that sends mail may run again after a crash between sending and
//! being marked done. Its mail goes out under a key of the job
//! ([`Mailer::for_job`]): the outbox file is named by it, so a second send
//! replaces the first (exactly one message), and over SMTP the message keeps
//! one `Message-ID`, by which mailbox providers fold a repeat into one.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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
    /// The receiving side refused the message for good (SMTP 5xx: no such
    /// mailbox, rejected as spam…): sending it again cannot help. Its text
    /// starts with [`REFUSED`] (see [`MailError::is_refusal_text`]).
    #[error("refused by the mail server: {0}")]
    Refused(String),
    #[error("bad SMTP URL: {0}")]
    Config(String),
}

#[derive(Clone)]
enum Transport {
    /// `.eml` files in this directory.
    File(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail through the configured transport.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    /// What makes a repeat of this mail the same message (see the module docs).
    message_key: Option<String>,
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
        Ok(Self { from: parse_mailbox(from)?, transport: Transport::File(dir), message_key: None })
    }

    /// Sends through the SMTP server of `url` (`smtp://user:pass@host:port`, `smtps://…`).
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let t =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| MailError::Config(e.to_string()))?.build();
        Ok(Self { from: parse_mailbox(from)?, transport: Transport::Smtp(t), message_key: None })
    }

    /// This mailer for the job `job_id`, which sends one message: sent
    /// again (the job ran again), it is the same message.
    pub fn for_job(&self, job_id: i64) -> Self {
        Self { message_key: Some(format!("job-{job_id}")), ..self.clone() }
    }

    /// Sends one message (counted in `kapu_emails_total` by outcome).
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let result = self.send_uncounted(mail).await;
        crate::metrics::email(match &result {
            Ok(()) => "sent",
            Err(e) if e.is_refusal() || matches!(e, MailError::Address(_)) => "refused",
            Err(_) => "failed",
        });
        result
    }

    async fn send_uncounted(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to = parse_mailbox(&mail.to)?;
        let from = match &mail.shop_name {
            Some(shop) => shop_sender(&self.from, shop),
            None => self.from.clone(),
        };
        let mut builder = Message::builder().from(from).to(to).subject(mail.subject.clone());
        if let Some(key) = &self.message_key {
            builder = builder.message_id(Some(format!("<{key}@{}>", self.from.email.domain())));
        }
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
            Transport::File(dir) => {
                let name = self.message_key.clone().unwrap_or_else(crate::ids::new_id);
                write_outbox_file(dir, &name, &message.formatted()).await
            }
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() { MailError::Refused(e.to_string()) } else { MailError::Send(e.to_string()) }
            }),
        }
    }
}

/// Writes `{name}.eml` whole or not at all (a temporary file renamed into
/// place), replacing an earlier one of the same name.
async fn write_outbox_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<(), MailError> {
    let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
    let (tmp, eml) = (dir.join(format!(".{name}.tmp")), dir.join(format!("{name}.eml")));
    let send = |e: std::io::Error| MailError::Send(format!("{}: {e}", eml.display()));
    tokio::fs::write(&tmp, bytes).await.map_err(send)?;
    tokio::fs::rename(&tmp, &eml).await.map_err(send)
}

/// How a refusal reads where its error was kept as text (a dead job's
/// `last_error`): the start of [`MailError::Refused`]'s message.
pub const REFUSED: &str = "refused by the mail server";

impl MailError {
    /// A refusal for good, which retrying cannot mend.
    pub fn is_refusal(&self) -> bool {
        matches!(self, MailError::Refused(_))
    }

    /// Whether an error kept as text (a job's `last_error`) was a refusal.
    pub fn is_refusal_text(text: &str) -> bool {
        text.contains(REFUSED)
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

#[cfg(test)]
mod refusal_tests {
    use super::*;

    #[test]
    fn a_refusal_is_known_again_from_its_text() {
        let e = MailError::Refused("550 5.1.1 no such mailbox".into());
        assert!(e.is_refusal() && MailError::is_refusal_text(&format!("sending: {e}")));
        assert!(!MailError::is_refusal_text(&MailError::Send("connection refused".into()).to_string()));
    }
}
