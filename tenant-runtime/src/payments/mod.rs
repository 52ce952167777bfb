//! Payment notifications: verify with the channel, then record the verified
//! payment and deliver, exactly once.

pub mod confirm;
