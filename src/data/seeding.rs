//! Every random draw in the data path comes from a ChaCha8 generator keyed by blake3 over the
//! parts that identify it (domain, seed, epoch, sample id, view): any one draw can be replayed
//! without replaying the ones before it, on any number of threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A generator for `domain` (e.g. "sampler/class_balanced", "augment") and the given parts.
pub fn derive_rng(domain: &str, seed: u64, epoch: u64, parts: &[&[u8]]) -> ChaCha8Rng {
    let mut h = blake3::Hasher::new_derive_key("ssdlt data seeding v1");
    for bytes in [domain.as_bytes(), &seed.to_le_bytes(), &epoch.to_le_bytes()].into_iter().chain(parts.iter().copied()) {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    ChaCha8Rng::from_seed(*h.finalize().as_bytes())
}
