//! Helpers shared by the integration test modules.

use std::path::PathBuf;

/// The predecessor's real data files (`LOCKSTEP_REAL_DATA`, else `../shared/data/original`
/// beside the checkout), or `None` with a notice saying what `skipped` is skipped or replaced.
/// The files are never committed, so every test that uses them must also make sense without.
pub fn real_data_dir(skipped: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("LOCKSTEP_REAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/original")
        });
    if dir.join("coinbase_top200_daily.csv").exists() {
        Some(dir)
    } else {
        eprintln!("notice: {} not found; {skipped}", dir.display());
        None
    }
}
