//! A self-hosted proof-of-work challenge, asked of buyers the shop's velocity
//! rule flags (no third-party captcha service).
//!
//! A challenge is `{expires}.{nonce}.{difficulty}.{sig}`, signed for the shop
//! and the client address. The answer is a counter such that
//! `SHA-256("{challenge}:{counter}")` starts with `difficulty` zero bits
//! (65,536 tries on average at 16 bits: about a second in a phone's browser).
//! Each challenge is good once and for five minutes.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use kapu_core::crypto::{Purpose, constant_time_eq, hmac_sha256_hex};
use sha2::{Digest, Sha256};

use crate::state::RuntimeState;

/// Leading zero bits asked for.
pub const DIFFICULTY: u32 = 16;
const LIFETIME_SECS: i64 = 300;

/// Challenges already answered in this process (kept as long as a
/// challenge lives): the record without Redis, or while it is down.
pub struct SpentChallenges(moka::sync::Cache<String, ()>);

impl Default for SpentChallenges {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(LIFETIME_SECS as u64 + 60))
                .build(),
        )
    }
}

fn signature(state: &RuntimeState, tenant_id: &str, ip: IpAddr, body: &str) -> String {
    let key = state.master.derive(tenant_id, Purpose::CheckoutChallenge);
    hmac_sha256_hex(&key, format!("{ip}|{body}").as_bytes())
}

/// A fresh challenge for this shop and client.
pub fn issue(state: &RuntimeState, tenant_id: &str, ip: IpAddr) -> String {
    let nonce: u64 = rand::random();
    let body = format!("{}.{nonce:016x}.{DIFFICULTY}", Utc::now().timestamp() + LIFETIME_SECS);
    let sig = signature(state, tenant_id, ip, &body);
    format!("{body}.{sig}")
}

/// Leading zero bits of a digest.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Checks an answer (`"{challenge}:{counter}"`) and spends the challenge:
/// once for the whole fleet with Redis, once for this process without.
pub async fn verify(state: &RuntimeState, tenant_id: &str, ip: IpAddr, answer: &str) -> bool {
    let Some((challenge, counter)) = answer.rsplit_once(':') else { return false };
    let Some((body, sig)) = challenge.rsplit_once('.') else { return false };
    let mut parts = body.split('.');
    let (Some(exp), Some(_nonce), Some(difficulty), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(exp), Ok(difficulty)) = (exp.parse::<i64>(), difficulty.parse::<u32>()) else { return false };
    if !constant_time_eq(&signature(state, tenant_id, ip, body), sig) || exp < Utc::now().timestamp() {
        return false;
    }
    if counter.is_empty() || counter.len() > 20 || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if leading_zero_bits(&Sha256::digest(format!("{challenge}:{counter}").as_bytes())) < difficulty.max(DIFFICULTY) {
        return false;
    }
    // Spend it: a second use of the same answer fails.
    let key = format!("{tenant_id}|{sig}");
    let lifetime = Duration::from_secs(LIFETIME_SECS as u64 + 60);
    if let Some(first) = state.fleet.take_once(&format!("pow:{key}"), lifetime).await {
        return first;
    }
    let spent = &state.spent_challenges.0;
    let mut first = false;
    spent.entry(key).or_insert_with(|| first = true);
    first
}

/// Finds an answer (what the storefront's script does; used by tests and API clients' docs).
pub fn solve(challenge: &str) -> String {
    let difficulty = challenge.split('.').nth(2).and_then(|d| d.parse().ok()).unwrap_or(DIFFICULTY);
    (0u64..)
        .map(|c| format!("{challenge}:{c}"))
        .find(|a| leading_zero_bits(&Sha256::digest(a.as_bytes())) >= difficulty)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::leading_zero_bits;

    #[test]
    fn zero_bits() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x80]), 16);
        assert_eq!(leading_zero_bits(&[0, 0x0f]), 12);
        assert_eq!(leading_zero_bits(&[0xff]), 0);
    }
}
