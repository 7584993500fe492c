//! GEMM and linear layers: C = op(A) op(B), y = x W^T + b.

/// C[m,n] = (C if accumulate) + op(A)·op(B); A is [m,k] ([k,m] if trans_a), B is [k,n] ([n,k] if
/// trans_b); all row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub accumulate: bool,
}

impl GemmShape {
    /// 2·m·n·k: floating-point operations of one product.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// The CPU GEMM on slices, through the `gemm` crate on `threads` rayon threads (1 = this thread).
/// Deterministic: the crate splits work over output blocks, never over k.
pub fn sgemm_cpu(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
    let GemmShape { m, n, k, trans_a, trans_b, accumulate } = *s;
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "sgemm_cpu: slices too short for {s:?}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (lhs_rs, lhs_cs) = if trans_a { (1, m as isize) } else { (k as isize, 1) };
    let (rhs_rs, rhs_cs) = if trans_b { (1, k as isize) } else { (n as isize, 1) };
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the strides above address only elements inside `a`, `b` and `c`, whose lengths were
    // checked against m, n and k; `c` is borrowed mutably and does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            lhs_cs,
            lhs_rs,
            b.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32]) {
        for i in 0..s.m {
            for j in 0..s.n {
                let mut acc = if s.accumulate { c[i * s.n + j] } else { 0.0 };
                for p in 0..s.k {
                    let av = if s.trans_a { a[p * s.m + i] } else { a[i * s.k + p] };
                    let bv = if s.trans_b { b[j * s.k + p] } else { b[p * s.n + j] };
                    acc += av * bv;
                }
                c[i * s.n + j] = acc;
            }
        }
    }

    #[test]
    fn sgemm_cpu_matches_naive_loops_for_every_transpose() {
        for (ta, tb, acc) in [(false, false, false), (true, false, true), (false, true, false), (true, true, true)] {
            let s = GemmShape { m: 7, n: 13, k: 5, trans_a: ta, trans_b: tb, accumulate: acc };
            let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..65).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut want = vec![0.5f32; 91];
            let mut got = want.clone();
            naive(&s, &a, &b, &mut want);
            sgemm_cpu(&s, &a, &b, &mut got, 2);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{s:?}: {g} vs {w}");
            }
        }
    }
}
