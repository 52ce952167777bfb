//! Password hashing (argon2id, the crate's defaults: 19 MiB, 2 passes) on a
//! bounded pool, for every hash Kapu makes: merchant and operator
//! passwords, buyers' lookup passwords.
//!
//! Each hash takes about 19 MiB and tens of milliseconds of one core. Run on
//! the async threads, a burst of them stalls every shop; run on tokio's
//! blocking pool without a bound, a burst takes a thread (and its memory)
//! per request. Here at most [`hashers`] run at once (half the cores, at
//! least one), so their memory is bounded by that many times 19 MiB and
//! half the cores stay with the requests. A caller waits at most
//! [`QUEUE_WAIT`] for a turn, then gets [`Busy`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use tokio::sync::Semaphore;

/// How long a hash waits for a free hasher before giving up.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Every hasher was busy for [`QUEUE_WAIT`]: try again shortly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is busy; try again in a moment")]
pub struct Busy;

/// How many hashes run at once: half the cores, at least one.
pub fn hashers() -> usize {
    std::thread::available_parallelism().map(|n| (n.get() / 2).max(1)).unwrap_or(1)
}

fn turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| Semaphore::new(hashers()))
}

/// Runs `work` on a blocking thread once a hasher is free.
async fn on_the_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let _turn = tokio::time::timeout(QUEUE_WAIT, turns().acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
    tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
}

static HASHES_MADE: AtomicU64 = AtomicU64::new(0);

/// Hashes this process has made so far (tests check what was spared).
pub fn hashes_made() -> u64 {
    HASHES_MADE.load(Ordering::Relaxed)
}

/// The PHC string of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, Busy> {
    on_the_pool(move || {
        HASHES_MADE.fetch_add(1, Ordering::Relaxed);
        let salt = SaltString::generate(&mut OsRng);
        // Hashing a string of any length with valid default parameters cannot fail.
        argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
    .await
}

/// Checks `password` against `hash`. With no hash (`None`: no such
/// account) a dummy hash is checked, so a wrong email costs as long as a
/// wrong password; the answer is then false.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, Busy> {
    on_the_pool(move || {
        let target = hash.clone().unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = PasswordHash::new(&target)
            .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
}

/// argon2id of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Nq5HnIzVL7+7LOwW8cSdgLZkDNoU3ZbHcFi8Ix1CVA";

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn hashes_verify_and_no_more_than_the_bound_run_at_once() {
        let h = hash("correct horse battery".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.expect("verify"));
        assert!(!verify("wrong".into(), Some(h)).await.expect("verify"));
        assert!(!verify("anything".into(), None).await.expect("verify"), "no account never verifies");

        // Twelve at once: never more than `hashers()` inside the pool.
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let runs = (0..12).map(|_| {
            let (inside, most) = (inside.clone(), most.clone());
            tokio::spawn(async move {
                on_the_pool(move || {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            })
        });
        for r in futures::future::join_all(runs).await {
            r.expect("task").expect("turn");
        }
        assert_eq!(most.load(Ordering::SeqCst), hashers());
    }
}
