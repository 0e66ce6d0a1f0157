//! The `users` table: add, list, change password or role, remove.

use super::{now_ms, password, session, AuthError, Role};
use crate::store::Store;
use sqlx::Row;

/// A user as listed (never with the password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub role: Role,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Trims and lower-cases a user name and checks it: 1-64 characters from `a-z0-9._-`, starting
/// with a letter or digit.
///
/// # Errors
/// [`AuthError::InvalidUsername`].
pub fn normalize_username(name: &str) -> Result<String, AuthError> {
    let n = name.trim().to_lowercase();
    let ok = (1..=64).contains(&n.len())
        && n.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if ok {
        Ok(n)
    } else {
        Err(AuthError::InvalidUsername(name.to_string()))
    }
}

/// Creates a user with a hashed password.
///
/// # Errors
/// An invalid name, a password outside the policy, an existing user, or a database error.
pub async fn add(store: &Store, name: &str, role: Role, password: &str) -> Result<User, AuthError> {
    let username = normalize_username(name)?;
    password::check_policy(password)?;
    if find(store, &username).await?.is_some() {
        return Err(AuthError::UserExists(username));
    }
    let hash = password::hash_blocking(password.to_string()).await?;
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&username)
    .bind(role.as_str())
    .bind(&hash)
    .bind(now)
    .execute(store.pool())
    .await;
    match inserted {
        Ok(_) => Ok(User {
            username,
            role,
            created_at_ms: now,
            updated_at_ms: now,
        }),
        // Someone added the same name between the check and the insert.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(AuthError::UserExists(username))
        }
        Err(e) => Err(e.into()),
    }
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, AuthError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        username: row.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| AuthError::Corrupt(format!("role {role:?}")))?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

/// All users, by name.
pub async fn list(store: &Store) -> Result<Vec<User>, AuthError> {
    let rows =
        sqlx::query("SELECT username, role, created_at, updated_at FROM users ORDER BY username")
            .fetch_all(store.pool())
            .await?;
    rows.iter().map(user_from_row).collect()
}

/// One user by (already normalised) name.
pub async fn find(store: &Store, username: &str) -> Result<Option<User>, AuthError> {
    let row =
        sqlx::query("SELECT username, role, created_at, updated_at FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(store.pool())
            .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// The user and the stored PHC hash, for sign-in.
pub async fn find_with_hash(
    store: &Store,
    username: &str,
) -> Result<Option<(User, String)>, AuthError> {
    let row = sqlx::query(
        "SELECT username, role, created_at, updated_at, password_hash FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
    }
}

/// Sets a new password and ends all of the user's sessions.
///
/// # Errors
/// An unknown user, a password outside the policy, or a database error.
pub async fn set_password(store: &Store, name: &str, password: &str) -> Result<(), AuthError> {
    let username = normalize_username(name)?;
    password::check_policy(password)?;
    if find(store, &username).await?.is_none() {
        return Err(AuthError::NoSuchUser(username));
    }
    let hash = password::hash_blocking(password.to_string()).await?;
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
        .bind(&hash)
        .bind(now_ms())
        .bind(&username)
        .execute(store.pool())
        .await?;
    session::delete_for_user(store, &username).await?;
    Ok(())
}

/// Changes a user's role. It applies to their open sessions at once (every request reads the
/// role from `users`).
pub async fn set_role(store: &Store, name: &str, role: Role) -> Result<(), AuthError> {
    let username = normalize_username(name)?;
    let r = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE username = $3")
        .bind(role.as_str())
        .bind(now_ms())
        .bind(&username)
        .execute(store.pool())
        .await?;
    if r.rows_affected() == 0 {
        return Err(AuthError::NoSuchUser(username));
    }
    Ok(())
}

/// Deletes a user and their sessions.
pub async fn remove(store: &Store, name: &str) -> Result<(), AuthError> {
    let username = normalize_username(name)?;
    session::delete_for_user(store, &username).await?;
    let r = sqlx::query("DELETE FROM users WHERE username = $1")
        .bind(&username)
        .execute(store.pool())
        .await?;
    if r.rows_affected() == 0 {
        return Err(AuthError::NoSuchUser(username));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(normalize_username("  Alice.B ").unwrap(), "alice.b");
        for bad in ["", "-x", "a b", "é", &"a".repeat(65)] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
    }
}
