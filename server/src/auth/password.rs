//! Password policy and argon2id hashing (RustCrypto `argon2`, default parameters, PHC strings).
//!
//! Hashing and verifying take tens of milliseconds of CPU on purpose: the async wrappers run them
//! on the blocking pool so they never stall the request executor.

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

    #[test]
    fn unknown_users_never_verify_and_corrupt_hashes_are_errors() {
        assert!(!verify_or_dummy("anything at all", None).unwrap());
        assert!(matches!(
            verify("x", "not a phc string"),
            Err(AuthError::Corrupt(_))
        ));
    }
}
