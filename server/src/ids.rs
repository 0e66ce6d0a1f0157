//! Record ids: unique across processes and time-ordered, so that plans, orders, notifications
//! and audit rows sort by when they were made.

use std::sync::atomic::{AtomicU64, Ordering};

/// A unique, time-ordered id: `PREFIX-<ms, 13 digits>-<counter>-<hex>`.
pub fn new_id(prefix: &str, now_ms: i64) -> String {
    use sha2::{Digest, Sha256};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h =
        Sha256::digest(format!("{prefix}:{now_ms}:{n}:{nanos}:{}", std::process::id()).as_bytes());
    let hex: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
    // The counter keeps ids made in one millisecond by this process in order.
    format!("{prefix}-{now_ms:013}-{:06}-{hex}", n % 1_000_000)
}
