//! Password policy and argon2id hashing (RustCrypto `argon2`, default parameters, PHC strings).
//!
//! Hashing and verifying take tens of milliseconds of CPU and 19 MiB of memory on purpose: the
//! async wrappers run them on the blocking pool so they never stall the request executor, and
//! the sign-in endpoint takes a [`HashSlots`] permit first, so a flood of sign-ins queues for a
//! few slots instead of exhausting memory and the blocking pool.

use super::AuthError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in bytes (bounds the work one request can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password against the policy.
///
/// # Errors
/// [`AuthError::PasswordTooShort`] or [`AuthError::PasswordTooLong`].
pub fn check_policy(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::PasswordTooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordTooLong);
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters) and a fresh random salt; returns the
/// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
///
/// # Errors
/// [`AuthError::Hash`] if the hasher fails (it does not for inputs within the policy).
pub fn hash(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string.
///
/// # Errors
/// [`AuthError::Corrupt`] when `phc` is not a valid PHC string.
pub fn verify(password: &str, phc: &str) -> Result<bool, AuthError> {
    let parsed =
        PasswordHash::new(phc).map_err(|e| AuthError::Corrupt(format!("password hash: {e}")))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(AuthError::Corrupt(format!("password hash: {e}"))),
    }
}

/// Verifies against `phc`, or — for an unknown user — against a dummy hash with the same
/// parameters and answers `false`, so both cases cost the same time.
pub fn verify_or_dummy(password: &str, phc: Option<&str>) -> Result<bool, AuthError> {
    match phc {
        Some(phc) => verify(password, phc),
        None => {
            let _ = verify(password, dummy_hash()?);
            Ok(false)
        }
    }
}

fn dummy_hash() -> Result<&'static str, AuthError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| AuthError::Hash(e.to_string()))?;
    let h = hash(&super::session::to_hex(&secret))?;
    Ok(DUMMY.get_or_init(|| h))
}

/// Prepares the dummy hash now, so the first unknown-user sign-in costs the same as the others.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// A cap on password hashes computed at once. Waiting longer than the configured time for a
/// slot gives [`AuthError::Busy`] (the endpoint answers 503 with `Retry-After`).
pub struct HashSlots {
    slots: tokio::sync::Semaphore,
    wait: std::time::Duration,
}

impl HashSlots {
    pub fn new(max: usize, wait: std::time::Duration) -> HashSlots {
        HashSlots {
            slots: tokio::sync::Semaphore::new(max.max(1)),
            wait,
        }
    }

    /// [`verify_blocking`] once a slot is free.
    ///
    /// # Errors
    /// [`AuthError::Busy`] when no slot came free in time; otherwise as [`verify_or_dummy`].
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, AuthError> {
        let _permit = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| AuthError::Busy)?
            .map_err(|_| AuthError::Busy)?;
        verify_blocking(password, phc).await
    }

    /// Slots free right now (for tests and the load test's report).
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

/// [`verify_or_dummy`] on the blocking pool.
pub async fn verify_blocking(password: String, phc: Option<String>) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || verify_or_dummy(&password, phc.as_deref()))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h).unwrap());
        assert!(!verify("correct horse batterz", &h).unwrap());
        // A fresh salt every time.
        assert_ne!(h, hash("correct horse battery").unwrap());
    }

    #[test]
    fn policy_counts_characters_and_bounds_bytes() {
        assert!(matches!(
            check_policy("short"),
            Err(AuthError::PasswordTooShort)
        ));
        assert!(check_policy("ääääääääääää").is_ok());
        assert!(matches!(
            check_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(AuthError::PasswordTooLong)
        ));
    }

    #[tokio::test]
    async fn hash_slots_bound_concurrent_work_and_time_out() {
        let slots = std::sync::Arc::new(HashSlots::new(1, std::time::Duration::from_millis(50)));
        let held = slots.slots.acquire().await.unwrap();
        assert_eq!(slots.available(), 0);
        // No slot comes free within the wait: busy, and nothing was hashed.
        let r = slots.verify("whatever password".into(), None).await;
        assert!(matches!(r, Err(AuthError::Busy)), "{r:?}");
        drop(held);
        assert!(!slots
            .verify("whatever password".into(), None)
            .await
            .unwrap());
        assert_eq!(slots.available(), 1);
    }

    #[test]
    fn unknown_users_never_verify_and_corrupt_hashes_are_errors() {
        assert!(!verify_or_dummy("anything at all", None).unwrap());
        assert!(matches!(
            verify("x", "not a phc string"),
            Err(AuthError::Corrupt(_))
        ));
    }
}
