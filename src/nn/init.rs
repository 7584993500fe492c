//! Deterministic parameter initialization from a seed.
//!
//! Every tensor draws from its own ChaCha8 stream keyed by (seed, state_dict name), so adding a
//! head or reordering construction never changes the values of the other parameters, and the
//! same seed gives the same network on every device (values are generated on the host).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a weight tensor is initialized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// `torch.nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')`: N(0, 2 / fan_out),
    /// fan_out = shape[0] * receptive field (torchvision ResNets' convolutions).
    KaimingNormalFanOut,
    /// `torch.nn.init.kaiming_normal_(w)` (mode fan_in, gain sqrt 2): N(0, 2 / fan_in),
    /// fan_in = shape[1] * receptive field (CIFAR ResNets' convolutions and classifier).
    KaimingNormalFanIn,
    /// PyTorch's default for `nn.Linear` / `nn.Conv2d` weights (`kaiming_uniform_(a=sqrt(5))`):
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    PyTorchDefault,
    /// U(-bound, bound) (PyTorch's default bias: bound = 1/sqrt(fan_in)).
    Uniform(f32),
    Constant(f32),
}

/// 64-bit FNV-1a: a stable hash of a parameter name (std's hasher is not stable across releases).
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The random stream of the tensor called `name` under `seed`.
pub fn stream(seed: u64, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(name));
    rng
}

/// (fan_in, fan_out) as `torch.nn.init._calculate_fan_in_and_fan_out`: dims 0 and 1 times the
/// product of the rest.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    let fan_out = shape.first().copied().unwrap_or(1) * receptive;
    let fan_in = shape.get(1).copied().unwrap_or(1) * receptive;
    (fan_in, fan_out)
}

/// Values of a tensor of `shape` called `name`, initialized by `init` from `seed`.
pub fn init_values(init: Init, shape: &[usize], seed: u64, name: &str) -> Vec<f32> {
    let len: usize = shape.iter().product();
    let (fan_in, fan_out) = fans(shape);
    let mut rng = stream(seed, name);
    match init {
        Init::Constant(v) => vec![v; len],
        Init::KaimingNormalFanOut => normal(&mut rng, len, (2.0 / fan_out as f64).sqrt()),
        Init::KaimingNormalFanIn => normal(&mut rng, len, (2.0 / fan_in as f64).sqrt()),
        Init::PyTorchDefault => uniform(&mut rng, len, 1.0 / (fan_in as f32).sqrt()),
        Init::Uniform(bound) => uniform(&mut rng, len, bound),
    }
}

fn uniform(rng: &mut ChaCha8Rng, len: usize, bound: f32) -> Vec<f32> {
    (0..len).map(|_| (rng.random::<f64>() * 2.0 - 1.0) as f32 * bound).collect()
}

/// Gaussian values by the Box-Muller transform (both outputs of each pair used).
fn normal(rng: &mut ChaCha8Rng, len: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(len + 1);
    while out.len() < len {
        let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch_for_conv_and_linear() {
        assert_eq!(fans(&[64, 3, 7, 7]), (3 * 49, 64 * 49));
        assert_eq!(fans(&[10, 64]), (64, 10));
        assert_eq!(fans(&[128, 4, 3, 3]), (36, 1152));
    }

    #[test]
    fn kaiming_fan_out_has_the_stated_standard_deviation() {
        let v = init_values(Init::KaimingNormalFanOut, &[64, 64, 3, 3], 7, "w");
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        let want = 2.0 / (64.0 * 9.0);
        assert!(mean.abs() < 3e-3, "mean {mean}");
        assert!((var / want - 1.0).abs() < 0.05, "var {var} want {want}");
    }

    #[test]
    fn pytorch_default_linear_init_stays_inside_its_bound() {
        let v = init_values(Init::PyTorchDefault, &[10, 64], 1, "fc.weight");
        assert!(v.iter().all(|x| x.abs() <= 0.125));
        assert!(v.iter().any(|x| x.abs() > 0.1));
    }

    #[test]
    fn streams_depend_on_seed_and_name_only() {
        let a = init_values(Init::KaimingNormalFanIn, &[4, 4], 3, "a");
        assert_eq!(a, init_values(Init::KaimingNormalFanIn, &[4, 4], 3, "a"));
        assert_ne!(a, init_values(Init::KaimingNormalFanIn, &[4, 4], 3, "b"));
        assert_ne!(a, init_values(Init::KaimingNormalFanIn, &[4, 4], 4, "a"));
    }
}
