//! `lockstep user add|list|passwd|role|remove`: manage who may sign in to the dashboard.
//!
//! Passwords never come from a plain argument (it would land in shell history and `ps`): they
//! are read from `--password-file FILE` (`-` for standard input; the first line), else from the
//! `LOCKSTEP_PASSWORD` environment variable, else from a no-echo prompt when standard input is a
//! terminal.

use crate::auth::{password, users, AuthError, Role};
use crate::store::Store;
use anyhow::{bail, Context};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "LOCKSTEP_PASSWORD";

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user: `lockstep user add NAME --role viewer|trader`.
    Add {
        /// User name: 1-64 of a-z, 0-9, '.', '_', '-' (stored lower-case).
        name: String,
        /// `viewer` (sees everything) or `trader` (may also approve plans and use the kill switch).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List users and their roles.
    List,
    /// Set a new password (ends the user's open sessions).
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Change a user's role (applies to open sessions at once).
    Role {
        name: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Delete a user and end their sessions.
    Remove { name: String },
}

/// Where the password comes from when it is not typed at a prompt.
#[derive(Debug, Clone, clap::Args)]
pub struct PasswordSource {
    /// Read the password from the first line of FILE (`-` reads standard input). Otherwise
    /// LOCKSTEP_PASSWORD is used, else a prompt when standard input is a terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(&s.trim().to_lowercase())
        .ok_or_else(|| format!("unknown role {s:?}: expected `viewer` or `trader`"))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn read_file_password(path: &Path) -> anyhow::Result<String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from standard input")?;
        s
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    eprintln!(
                        "warning: {} is readable by other users; consider `chmod 600` on it",
                        path.display()
                    );
                }
            }
        }
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the password file {}", path.display()))?
    };
    let line = first_line(&text);
    if line.is_empty() {
        bail!("the password file {} is empty", path.display());
    }
    Ok(line.to_string())
}

/// Gets a new password from the file, the environment or a prompt (asked twice), and checks
/// it against the policy.
fn read_new_password(source: &PasswordSource, username: &str) -> anyhow::Result<String> {
    let pw = if let Some(path) = &source.password_file {
        read_file_password(path)?
    } else if let Some(pw) = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()) {
        pw
    } else if std::io::stdin().is_terminal() {
        let pw = rpassword::prompt_password(format!("New password for {username}: "))
            .context("reading the password from the terminal")?;
        password::check_policy(&pw)?;
        let again = rpassword::prompt_password("Repeat it: ")
            .context("reading the password from the terminal")?;
        if pw != again {
            bail!("the two passwords differ; nothing was changed");
        }
        pw
    } else {
        bail!(
            "no password given: use --password-file FILE (or `-` for stdin), set {PASSWORD_ENV}, \
             or run in a terminal to be prompted"
        );
    };
    password::check_policy(&pw)?;
    Ok(pw)
}

fn day_of(ms: i64) -> String {
    shared::Day(ms.div_euclid(86_400_000) as i32).to_string()
}

/// Who ran the command, for the audit log: `cli:` and the operating-system user (`cli` when the
/// environment does not say).
fn actor() -> String {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_graphic()));
    match os_user {
        Some(u) => format!("cli:{u}"),
        None => "cli".to_string(),
    }
}

/// Writes one user change to the audit log (`user.add`, `user.password`, `user.role`,
/// `user.remove`), after the change itself.
async fn audit(
    store: &Store,
    action: &str,
    username: &str,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    crate::live::records::Records { store }
        .audit(
            &actor(),
            action,
            Some(username),
            detail,
            crate::auth::now_ms(),
        )
        .await
        .with_context(|| format!("writing {action} for {username} to the audit log"))
}

/// Runs one `lockstep user` subcommand against the store. Every change is written to the audit
/// log.
pub async fn run(store: &Store, cmd: &UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            password,
        } => {
            let username = users::normalize_username(name)?;
            if users::find(store, &username).await?.is_some() {
                return Err(AuthError::UserExists(username).into());
            }
            let pw = read_new_password(password, &username)?;
            let user = users::add(store, &username, *role, &pw).await?;
            audit(
                store,
                "user.add",
                &user.username,
                Some(&format!("role {}", user.role.as_str())),
            )
            .await?;
            println!("added user {} ({})", user.username, user.role.as_str());
        }
        UserCommand::List => {
            let all = users::list(store).await?;
            if all.is_empty() {
                println!("no users yet; add one with `lockstep user add NAME --role trader`");
            } else {
                println!(
                    "{:<24} {:<8} {:<10} {:<10}",
                    "NAME", "ROLE", "CREATED", "UPDATED"
                );
                for u in all {
                    println!(
                        "{:<24} {:<8} {:<10} {:<10}",
                        u.username,
                        u.role.as_str(),
                        day_of(u.created_at_ms),
                        day_of(u.updated_at_ms)
                    );
                }
            }
        }
        UserCommand::Passwd { name, password } => {
            let username = users::normalize_username(name)?;
            if users::find(store, &username).await?.is_none() {
                return Err(AuthError::NoSuchUser(username).into());
            }
            let pw = read_new_password(password, &username)?;
            users::set_password(store, &username, &pw).await?;
            audit(
                store,
                "user.password",
                &username,
                Some("open sessions ended"),
            )
            .await?;
            println!("password changed for {username}; their open sessions were ended");
        }
        UserCommand::Role { name, role } => {
            users::set_role(store, name, *role).await?;
            let username = users::normalize_username(name)?;
            audit(
                store,
                "user.role",
                &username,
                Some(&format!("now {}", role.as_str())),
            )
            .await?;
            println!("{username} is now a {}", role.as_str());
        }
        UserCommand::Remove { name } => {
            users::remove(store, name).await?;
            let username = users::normalize_username(name)?;
            audit(store, "user.remove", &username, Some("sessions ended")).await?;
            println!("removed user {username}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_passwords_take_the_first_line() {
        assert_eq!(parse_role("Trader"), Ok(Role::Trader));
        assert!(parse_role("admin").unwrap_err().contains("viewer"));
        assert_eq!(
            first_line("s3cret pass phrase\r\nignored"),
            "s3cret pass phrase"
        );
    }
}
