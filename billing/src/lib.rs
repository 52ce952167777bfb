//! Kapu billing: the [`PaymentChannel`] trait every channel implements, the
//! channels themselves (one module each under `channels/`), and the router
//! that picks a tenant's channel for a payment.

pub mod channel;
pub mod channels;
pub mod router;

pub use channel::{
    ChannelContext, ChannelError, Notification, PaymentChannel, PaymentOutcome, PaymentRequest, PaymentStart,
    VerifiedNotification, VerifyError,
};
