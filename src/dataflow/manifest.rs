//! The dataset manifest as a collection: what changed since the last run and what still needs work.

use crate::data::ContentHash;

/// Keys of `wanted` (sample id, content hash) that are not in `cached`, in `wanted`'s order.
pub fn uncached(wanted: &[(String, ContentHash)], cached: &[(String, ContentHash)]) -> Vec<(String, ContentHash)> {
    let have: std::collections::HashSet<&(String, ContentHash)> = cached.iter().collect();
    wanted.iter().filter(|k| !have.contains(k)).cloned().collect()
}
