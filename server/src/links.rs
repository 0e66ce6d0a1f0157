//! Named team links: a backtest or sweep share state stored under a short random id, so the team
//! can send `https://host/s/<id>` instead of a URL that carries the whole (compressed) state.
//!
//! The state is exactly the string the dashboard's "Copy link" puts after `?s=`
//! ([`app::share::encode`]); it is checked with the dashboard's own [`app::share::decode`] before
//! it is stored, so a tampered or truncated state is refused with the reason instead of being
//! handed out later. `/s/<id>` redirects to `/backtest?s=<state>` or `/sweep?s=<state>`, which is
//! byte for byte the URL "Copy link" produced.
//!
//! Ids are 12 characters from `[0-9A-Za-z]` drawn from the OS random source (about 71 bits):
//! a short link is as hard to guess as the long one it stands for, which is why `/s/<id>` can be
//! opened without signing in (a link pasted in chat arrives without the SameSite=Strict session
//! cookie, and the pages it leads to are public anyway).

use crate::store::Store;
use app::share::{self, ShareError, SharedState};
use sqlx::Row;

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Largest accepted results of a sweep link ([`app::share::MAX_RESULTS_BYTES`]).
pub const MAX_RESULTS_BYTES: usize = share::MAX_RESULTS_BYTES;
/// Largest accepted state, in bytes. A default backtest's state is about 1 kB; a state is
/// inflated (at most 1 MiB) only after this check.
pub const MAX_STATE_BYTES: usize = 64 * 1024;
/// Length of an id.
pub const ID_LEN: usize = 12;
const ID_ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which page a link opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Backtest,
    Sweep,
}

impl LinkKind {
    /// `"backtest"` or `"sweep"`, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Backtest => "backtest",
            LinkKind::Sweep => "sweep",
        }
    }

    pub fn parse(s: &str) -> Option<LinkKind> {
        match s {
            "backtest" => Some(LinkKind::Backtest),
            "sweep" => Some(LinkKind::Sweep),
            _ => None,
        }
    }

    /// The page's path.
    pub fn page(self) -> &'static str {
        match self {
            LinkKind::Backtest => "/backtest",
            LinkKind::Sweep => "/sweep",
        }
    }

    /// A state with a sweep is a Sweep page link (that is the only page that writes one).
    pub fn of(state: &SharedState) -> LinkKind {
        if state.sweep.is_some() {
            LinkKind::Sweep
        } else {
            LinkKind::Backtest
        }
    }
}

/// A stored link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLink {
    pub id: String,
    pub kind: LinkKind,
    pub name: String,
    /// The encoded share state, as "Copy link" writes it.
    pub state: String,
    /// Whether a sweep's finished results are stored with it (`GET /api/links/{id}/results`).
    pub has_results: bool,
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
}

impl StoredLink {
    /// `/s/<id>`.
    pub fn path(&self) -> String {
        format!("/s/{}", self.id)
    }

    /// Where `/s/<id>` sends the browser: the page with the state, as "Copy link" makes it,
    /// plus `&link=<id>` when results are stored (the Sweep page then shows them).
    pub fn target(&self) -> String {
        let mut t = format!("{}?s={}", self.kind.page(), self.state);
        if self.has_results {
            t += &format!("&link={}", self.id);
        }
        t
    }
}

/// Why a link cannot be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("name: give the link a name (1 to {MAX_NAME_CHARS} characters)")]
    EmptyName,
    #[error("name: {0} characters is too long (at most {MAX_NAME_CHARS})")]
    NameTooLong(usize),
    #[error("name: control characters (line breaks, tabs, ...) are not allowed")]
    NameControl,
    #[error("state: {0} bytes is too large for a team link (at most {MAX_STATE_BYTES})")]
    StateTooLarge(usize),
    #[error("results: {0} bytes is too large for a team link (at most {MAX_RESULTS_BYTES})")]
    ResultsTooLarge(usize),
    #[error("results: {0}")]
    BadResults(String),
    #[error("state: {0}")]
    BadState(#[from] ShareError),
    #[error("could not draw a random id: {0}")]
    Random(String),
    #[error("stored link {id:?} is not valid: {why}")]
    Corrupt { id: String, why: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl LinkError {
    /// Whether the request was at fault (400) rather than the server.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            LinkError::EmptyName
                | LinkError::NameTooLong(_)
                | LinkError::NameControl
                | LinkError::StateTooLarge(_)
                | LinkError::ResultsTooLarge(_)
                | LinkError::BadResults(_)
                | LinkError::BadState(_)
        )
    }
}

/// A valid link as it will be stored: trimmed name, trimmed state, the page it opens.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    pub name: String,
    pub state: String,
    pub kind: LinkKind,
}

/// Checks a name and an encoded state (decoding it with the dashboard's own code).
///
/// # Errors
/// [`LinkError`] naming the field and the problem.
pub fn check(name: &str, state: &str) -> Result<Checked, LinkError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(LinkError::EmptyName);
    }
    if chars > MAX_NAME_CHARS {
        return Err(LinkError::NameTooLong(chars));
    }
    if name.chars().any(char::is_control) {
        return Err(LinkError::NameControl);
    }
    let state = state.trim();
    if state.len() > MAX_STATE_BYTES {
        return Err(LinkError::StateTooLarge(state.len()));
    }
    let decoded = share::decode(state)?;
    Ok(Checked {
        name: name.to_string(),
        state: state.to_string(),
        kind: LinkKind::of(&decoded),
    })
}

/// Checks a sweep link's results (decoding them with the dashboard's own code).
///
/// # Errors
/// Results too large, unreadable, or given with a backtest state.
pub fn check_results(kind: LinkKind, results: &str) -> Result<String, LinkError> {
    let results = results.trim();
    if results.len() > MAX_RESULTS_BYTES {
        return Err(LinkError::ResultsTooLarge(results.len()));
    }
    if kind != LinkKind::Sweep {
        return Err(LinkError::BadResults(
            "only a sweep link stores results".into(),
        ));
    }
    share::decode_results(results).map_err(|e| LinkError::BadResults(e.to_string()))?;
    Ok(results.to_string())
}

/// Whether `id` has the shape of an id (so anything else is answered without a query).
pub fn is_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A fresh random id: each character uniform over the 62 of [`ID_ALPHABET`] (bytes ≥ 248 are
/// redrawn, so `% 62` has no bias).
fn new_id() -> Result<String, LinkError> {
    let mut id = String::with_capacity(ID_LEN);
    let mut buf = [0u8; 32];
    while id.len() < ID_LEN {
        getrandom::fill(&mut buf).map_err(|e| LinkError::Random(e.to_string()))?;
        for &b in &buf {
            if b < 248 && id.len() < ID_LEN {
                id.push(ID_ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(id)
}

/// Stores a link made by `created_by`.
///
/// # Errors
/// A bad name or state ([`LinkError::is_bad_request`]) or a database error.
pub async fn create(
    store: &Store,
    name: &str,
    state: &str,
    results: Option<&str>,
    created_by: &str,
) -> Result<StoredLink, LinkError> {
    let checked = check(name, state)?;
    let results = results
        .map(|r| check_results(checked.kind, r))
        .transpose()?;
    let now = crate::auth::now_ms();
    // A clash of 71-bit ids is not expected; a unique violation just draws again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let id = new_id()?;
        let inserted = sqlx::query(
            "INSERT INTO team_links (id, kind, name, state, created_by, created_at, results) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(checked.kind.as_str())
        .bind(&checked.name)
        .bind(&checked.state)
        .bind(created_by)
        .bind(now)
        .bind(results.as_deref())
        .execute(store.pool())
        .await;
        match inserted {
            Ok(_) => {
                return Ok(StoredLink {
                    id,
                    kind: checked.kind,
                    name: checked.name,
                    state: checked.state,
                    has_results: results.is_some(),
                    created_by: created_by.to_string(),
                    created_at_ms: now,
                })
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 3 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredLink, LinkError> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let kind = LinkKind::parse(&kind).ok_or_else(|| LinkError::Corrupt {
        id: id.clone(),
        why: format!("kind {kind:?}"),
    })?;
    Ok(StoredLink {
        id,
        kind,
        name: row.try_get("name")?,
        state: row.try_get("state")?,
        has_results: row.try_get::<i64, _>("has_results")? != 0,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

/// One link by id (`None` for an unknown or malformed id).
pub async fn get(store: &Store, id: &str) -> Result<Option<StoredLink>, LinkError> {
    if !is_id(id) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT id, kind, name, state, created_by, created_at, CAST(CASE WHEN results IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_results FROM team_links WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The newest `limit` links, newest first.
pub async fn list(store: &Store, limit: i64) -> Result<Vec<StoredLink>, LinkError> {
    let rows = sqlx::query(
        "SELECT id, kind, name, state, created_by, created_at, CAST(CASE WHEN results IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_results FROM team_links ORDER BY created_at DESC, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// A link's stored results (`None`: no such link, or none stored).
pub async fn results(store: &Store, id: &str) -> Result<Option<String>, LinkError> {
    if !is_id(id) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT results FROM team_links WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<String>, _>("results")?,
        None => None,
    })
}

/// Deletes a link; `false` when there was none.
pub async fn delete(store: &Store, id: &str) -> Result<bool, LinkError> {
    if !is_id(id) {
        return Ok(false);
    }
    let r = sqlx::query("DELETE FROM team_links WHERE id = $1")
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::share::{BacktestSpec, SweepAxisSpec, SweepSpec, SHARE_VERSION};
    use shared::portfolio::rebalance::RebalancePolicy;

    fn state(sweep: bool) -> String {
        share::encode(&SharedState {
            v: SHARE_VERSION,
            kernel: shared::KERNEL_VERSION.into(),
            data: None,
            backtest: BacktestSpec {
                config: serde_json::json!({"strategy_weights": {"volatility": 1.0}}),
                start: None,
                end: None,
                policy: RebalancePolicy::Time,
                fee_bps: 10.0,
                slippage_bps: 0.0,
            },
            data_version: None,
            universe: None,
            costs: None,
            sweep: sweep.then(|| SweepSpec {
                scope: "volatility".into(),
                axes: vec![SweepAxisSpec {
                    strategy: "volatility".into(),
                    param: "volatility_window".into(),
                    from: 10.0,
                    to: 30.0,
                    steps: 3,
                }],
                metric: "sharpe".into(),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn the_kind_follows_the_state() {
        let c = check("  Vol sweep ", &state(true)).unwrap();
        assert_eq!((c.name.as_str(), c.kind), ("Vol sweep", LinkKind::Sweep));
        assert_eq!(check("x", &state(false)).unwrap().kind, LinkKind::Backtest);
    }

    #[test]
    fn bad_names_and_states_say_what_is_wrong() {
        let s = state(false);
        assert!(matches!(check("  ", &s), Err(LinkError::EmptyName)));
        assert!(matches!(
            check(&"é".repeat(101), &s),
            Err(LinkError::NameTooLong(101))
        ));
        assert!(check(&"é".repeat(100), &s).is_ok());
        assert!(matches!(check("a\nb", &s), Err(LinkError::NameControl)));
        let e = check("x", &s[..s.len() - 8]).unwrap_err();
        assert!(e.is_bad_request());
        assert!(
            e.to_string().starts_with("state: this link is truncated"),
            "{e}"
        );
        let huge = format!("1.{}", "A".repeat(MAX_STATE_BYTES));
        assert!(matches!(
            check("x", &huge),
            Err(LinkError::StateTooLarge(_))
        ));
    }

    #[test]
    fn ids_are_12_alphanumerics_and_differ() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(is_id(&a) && is_id(&b), "{a} {b}");
        assert_ne!(a, b);
        assert!(!is_id("abc"));
        assert!(!is_id("abcdefghijk-"));
    }

    #[test]
    fn the_target_is_the_copy_link_url() {
        let s = state(true);
        let link = StoredLink {
            id: "abcdefghijkl".into(),
            kind: LinkKind::Sweep,
            name: "n".into(),
            state: s.clone(),
            has_results: false,
            created_by: "u".into(),
            created_at_ms: 0,
        };
        assert_eq!(link.target(), format!("/sweep?s={s}"));
        assert_eq!(link.path(), "/s/abcdefghijkl");
        let with = StoredLink {
            has_results: true,
            ..link
        };
        assert_eq!(with.target(), format!("/sweep?s={s}&link=abcdefghijkl"));
    }
}
