//! The stride phases of a transposed convolution (backward-data): along each axis, the input
//! pixels `i = a * stride + phase` are reached by the same kernel taps, so each phase is a
//! stride-1 convolution of dy with a sub-kernel. The texture kernels and the cpu path both
//! compute backward-data phase by phase.

/// One stride phase of the transposed convolution along one axis: the input pixels
/// `i = a * stride + phase` (a < `count`) are reached by the kernel taps `k = k_max - stride * t`
/// (t < `taps`) from the dy rows `a + first + t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Phase {
    pub phase: usize,
    pub count: usize,
    pub taps: usize,
    pub k_max: usize,
    pub first: isize,
}

/// The `stride` phases of an axis of `size` input pixels under a kernel of `k` taps and `pad`.
pub(super) fn phases(size: usize, k: usize, stride: usize, pad: usize) -> Vec<Phase> {
    (0..stride)
        .map(|phase| {
            let count = if phase >= size { 0 } else { (size - 1 - phase) / stride + 1 };
            let r = (phase + pad) % stride;
            let taps = if r >= k { 0 } else { (k - 1 - r) / stride + 1 };
            let k_max = if taps == 0 { 0 } else { r + stride * (taps - 1) };
            let first = (phase + pad) as isize - k_max as isize;
            Phase { phase, count, taps, k_max, first: first.div_euclid(stride as isize) }
        })
        .collect()
}

/// The padding of dy that every phase's taps stay within: (before, extent) along one axis.
pub(super) fn dy_padding(phases: &[Phase], out: usize) -> (usize, usize) {
    let live = || phases.iter().filter(|p| p.count > 0 && p.taps > 0);
    let before = live().map(|p| (-p.first).max(0) as usize).max().unwrap_or(0);
    let end = live().map(|p| (p.count + p.taps - 1) as isize + p.first).max().unwrap_or(0).max(out as isize);
    (before, (end + before as isize) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input pixel belongs to exactly one phase, and each phase's taps are the kernel taps
    /// that reach it (checked against a direct enumeration).
    #[test]
    fn phases_cover_every_pixel_with_the_taps_that_reach_it() {
        for (size, k, stride, pad) in [(32, 3, 1, 1), (32, 3, 2, 1), (7, 3, 2, 1), (8, 1, 2, 0), (5, 3, 3, 0), (9, 1, 1, 0)] {
            let out = (size + 2 * pad - k) / stride + 1;
            let ph = phases(size, k, stride, pad);
            for i in 0..size {
                let p = ph[i % stride];
                assert!(i / stride < p.count, "pixel {i} is not in its phase");
                // (tap, dy row) pairs that reach pixel i, largest tap first, as the phase walks them.
                let mut want: Vec<(usize, usize)> = (0..k).filter(|&kk| i + pad >= kk && (i + pad - kk) % stride == 0 && (i + pad - kk) / stride < out).map(|kk| (kk, (i + pad - kk) / stride)).collect();
                want.sort_by_key(|&(kk, _)| std::cmp::Reverse(kk));
                let got: Vec<(usize, usize)> = (0..p.taps)
                    .map(|t| (p.k_max - stride * t, (i / stride) as isize + p.first + t as isize))
                    .filter(|&(_, o)| o >= 0 && (o as usize) < out)
                    .map(|(kk, o)| (kk, o as usize))
                    .collect();
                assert_eq!(got, want, "size {size} k {k} stride {stride} pad {pad} pixel {i}");
            }
            assert_eq!(ph.iter().map(|p| p.count).sum::<usize>(), size);
        }
    }
}
