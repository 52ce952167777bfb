//! Kapu billing: the [`PaymentChannel`] trait every channel implements, the
//! channels themselves (one module each under `channels/`), the router that
//! orders a shop's channels and retries them, and channel health with its
//! circuit breakers.

pub mod channel;
pub mod channels;
pub mod credentials;
pub mod endpoints;
pub mod forms;
pub mod health;
pub mod money;
pub mod providers;
pub mod router;
pub mod rsa_keys;
pub mod signing;
pub mod subscriptions;
pub mod suppliers;

pub use channel::{
    ChannelContext, ChannelError, KnownPayment, Notification, PaymentChannel, PaymentOutcome, PaymentRequest,
    PaymentStart, QueryOutcome, VerifiedNotification, VerifyError,
};
pub use endpoints::ProviderEndpoints;
