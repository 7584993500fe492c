//! The two products the cpu convolutions lower onto (`conv2d_cpu.rs`), as direct SIMD kernels
//! (`cpu_simd.rs`). Their B operand is a "virtual" matrix whose rows start at arbitrary offsets
//! of one slice: the shifted rows of a padded image or of its stride parity planes (im2col
//! without the copy). The kernels read those rows where they lie. Gathering them into a dense matrix
//! for a GEMM library, which then packed them again, took a third of a cpu training step
//! (BENCHMARKS.md, session 8).
//!
//! Register blocks: `shifted_product` keeps MR rows x NV vectors of C in registers and
//! broadcasts one A value per row and step; `weight_product` keeps one vector of C's transpose
//! x NJ columns and broadcasts one B value per column and step. Every output is summed over q in
//! ascending order by one lane of one accumulator, so a result does not depend on the blocking
//! and is the same bits run after run on one processor.

use super::cpu_simd::{dispatch, Simd, SimdLevel, SimdOp};

/// C[i * ldc + j] = sum over q of A[i * a_rs + q * a_cs] * B[b_off[q] + j], for i < m, j < n,
/// q < b_off.len().
///
/// Panics if a slice is too short for the rows and columns it is read or written at.
#[allow(clippy::too_many_arguments)]
pub fn shifted_product(level: SimdLevel, m: usize, n: usize, a: &[f32], a_rs: usize, a_cs: usize, b: &[f32], b_off: &[usize], c: &mut [f32], ldc: usize) {
    let k = b_off.len();
    if m == 0 || n == 0 {
        return;
    }
    assert!(k == 0 || (m - 1) * a_rs + (k - 1) * a_cs < a.len(), "shifted_product: A too short");
    assert!(b_off.iter().all(|&o| o + n <= b.len()), "shifted_product: a B row runs past the end");
    assert!((m - 1) * ldc + n <= c.len() && ldc >= n, "shifted_product: C too short");
    dispatch(level, Shifted { m, n, a: a.as_ptr(), a_rs, a_cs, b: b.as_ptr(), b_off, c: c.as_mut_ptr(), ldc });
}

/// C_T[j * ldc + i] += sum over q of A_T[q * lda + i] * B[b_off[j] + q], for i < m, j < n, q < l:
/// the weight gradient dW^T += X_col · dY^T with dY transposed (A_T, positions x channels) and
/// X's columns the virtual rows of B.
///
/// Panics if a slice is too short for the rows and columns it is read or written at.
#[allow(clippy::too_many_arguments)]
pub fn weight_product(level: SimdLevel, m: usize, n: usize, l: usize, a_t: &[f32], lda: usize, b: &[f32], b_off: &[usize], c_t: &mut [f32], ldc: usize) {
    assert_eq!(b_off.len(), n, "weight_product: one B offset per column");
    if m == 0 || n == 0 || l == 0 {
        return;
    }
    assert!((l - 1) * lda + m <= a_t.len() && lda >= m, "weight_product: A_T too short");
    assert!(b_off.iter().all(|&o| o + l <= b.len()), "weight_product: a B row runs past the end");
    assert!((n - 1) * ldc + m <= c_t.len() && ldc >= m, "weight_product: C_T too short");
    dispatch(level, Weight { m, n, l, a_t: a_t.as_ptr(), lda, b: b.as_ptr(), b_off, c_t: c_t.as_mut_ptr(), ldc });
}

/// The arguments of `shifted_product`, checked; raw pointers so the tiles need no bounds checks.
struct Shifted<'a> {
    m: usize,
    n: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_off: &'a [usize],
    c: *mut f32,
    ldc: usize,
}

impl SimdOp for Shifted<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self) {
        // 16 lanes: 8 rows x 3 vectors (24 of 32 registers); 8 lanes: 6 x 2 (12 of 16).
        if S::LANES == 16 {
            shifted_columns::<S, 8, 3>(&self)
        } else {
            shifted_columns::<S, 6, 2>(&self)
        }
    }
}

/// Column blocks of NV vectors, then blocks of 2 and 1 for the rest, the last one partial where
/// the columns end inside a vector; each over all rows.
#[inline(always)]
fn shifted_columns<S: Simd, const MR: usize, const NV: usize>(p: &Shifted) {
    let (lanes, mut j0) = (S::LANES, 0);
    while p.n - j0 >= NV * lanes {
        shifted_rows::<S, MR, NV, false>(p, j0, NV * lanes);
        j0 += NV * lanes;
    }
    while p.n - j0 > 2 * lanes {
        shifted_rows::<S, MR, 2, false>(p, j0, 2 * lanes);
        j0 += 2 * lanes;
    }
    let rest = p.n - j0;
    match (rest.div_ceil(lanes), rest.is_multiple_of(lanes)) {
        (0, _) => {}
        (1, true) => shifted_rows::<S, MR, 1, false>(p, j0, rest),
        (1, false) => shifted_rows::<S, MR, 1, true>(p, j0, rest),
        (_, true) => shifted_rows::<S, MR, 2, false>(p, j0, rest),
        (_, false) => shifted_rows::<S, MR, 2, true>(p, j0, rest),
    }
}

/// Row blocks of MR, then 4, 2 and 1 for the rest.
#[inline(always)]
fn shifted_rows<S: Simd, const MR: usize, const NV: usize, const PARTIAL: bool>(p: &Shifted, j0: usize, cols: usize) {
    let mut i0 = 0;
    while p.m - i0 >= MR {
        shifted_tile::<S, MR, NV, PARTIAL>(p, i0, j0, cols);
        i0 += MR;
    }
    while p.m - i0 >= 4 {
        shifted_tile::<S, 4, NV, PARTIAL>(p, i0, j0, cols);
        i0 += 4;
    }
    while p.m - i0 >= 2 {
        shifted_tile::<S, 2, NV, PARTIAL>(p, i0, j0, cols);
        i0 += 2;
    }
    if p.m > i0 {
        shifted_tile::<S, 1, NV, PARTIAL>(p, i0, j0, cols);
    }
}

/// Rows i0 .. i0 + MR and columns j0 .. j0 + cols of C: NV vectors, the last of them partial
/// with PARTIAL.
#[inline(always)]
fn shifted_tile<S: Simd, const MR: usize, const NV: usize, const PARTIAL: bool>(p: &Shifted, i0: usize, j0: usize, cols: usize) {
    let lanes = S::LANES;
    let mut acc = [[S::zero(); NV]; MR];
    // SAFETY: `shifted_product` checked that rows i0 .. i0 + MR of A (every q), columns
    // j0 .. j0 + cols of every B row and of C's rows lie inside their slices.
    unsafe {
        let a0 = p.a.add(i0 * p.a_rs);
        for (q, &off) in p.b_off.iter().enumerate() {
            let row = p.b.add(off + j0);
            let bv: [S::V; NV] = std::array::from_fn(|v| if PARTIAL && v == NV - 1 { S::load_partial(row.add(v * lanes), cols - v * lanes) } else { S::load(row.add(v * lanes)) });
            let aq = a0.add(q * p.a_cs);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = S::splat(*aq.add(r * p.a_rs));
                for (acc_rv, &b) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = S::mul_add(av, b, *acc_rv);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            let out = p.c.add((i0 + r) * p.ldc + j0);
            for (v, &sum) in acc_r.iter().enumerate() {
                let at = out.add(v * lanes);
                if PARTIAL && v == NV - 1 {
                    S::store_partial(at, cols - v * lanes, sum);
                } else {
                    S::store(at, sum);
                }
            }
        }
    }
}

/// The arguments of `weight_product`, checked.
struct Weight<'a> {
    m: usize,
    n: usize,
    l: usize,
    a_t: *const f32,
    lda: usize,
    b: *const f32,
    b_off: &'a [usize],
    c_t: *mut f32,
    ldc: usize,
}

impl SimdOp for Weight<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self) {
        // One vector of C_T's row x NJ columns: 24 (of 32 registers) or 12 (of 16).
        if S::LANES == 16 {
            weight_vectors::<S, 24>(&self)
        } else {
            weight_vectors::<S, 12>(&self)
        }
    }
}

/// Vectors along i (the last one partial), each over all columns.
#[inline(always)]
fn weight_vectors<S: Simd, const NJ: usize>(p: &Weight) {
    let lanes = S::LANES;
    let mut i0 = 0;
    while p.m - i0 >= lanes {
        weight_columns::<S, NJ, false>(p, i0, lanes);
        i0 += lanes;
    }
    if p.m > i0 {
        weight_columns::<S, NJ, true>(p, i0, p.m - i0);
    }
}

/// Column blocks of NJ, then 12, 6, 3 and 1 for the rest.
#[inline(always)]
fn weight_columns<S: Simd, const NJ: usize, const PARTIAL: bool>(p: &Weight, i0: usize, rows: usize) {
    let mut j0 = 0;
    while p.n - j0 >= NJ {
        weight_tile::<S, NJ, PARTIAL>(p, i0, rows, j0);
        j0 += NJ;
    }
    while p.n - j0 >= 12 {
        weight_tile::<S, 12, PARTIAL>(p, i0, rows, j0);
        j0 += 12;
    }
    while p.n - j0 >= 6 {
        weight_tile::<S, 6, PARTIAL>(p, i0, rows, j0);
        j0 += 6;
    }
    while p.n - j0 >= 3 {
        weight_tile::<S, 3, PARTIAL>(p, i0, rows, j0);
        j0 += 3;
    }
    while p.n > j0 {
        weight_tile::<S, 1, PARTIAL>(p, i0, rows, j0);
        j0 += 1;
    }
}

/// C_T's columns j0 .. j0 + NJ, rows i0 .. i0 + rows (one vector, partial with PARTIAL).
#[inline(always)]
fn weight_tile<S: Simd, const NJ: usize, const PARTIAL: bool>(p: &Weight, i0: usize, rows: usize, j0: usize) {
    let mut acc = [S::zero(); NJ];
    // SAFETY: `weight_product` checked that A_T's rows q < l (lanes i0 .. i0 + rows), the first l
    // values of every B row and C_T's rows j0 .. j0 + NJ (lanes i0 .. i0 + rows) lie inside their
    // slices.
    unsafe {
        let rows_b: [*const f32; NJ] = std::array::from_fn(|j| p.b.add(p.b_off[j0 + j]));
        let mut a = p.a_t.add(i0);
        for q in 0..p.l {
            let av = if PARTIAL { S::load_partial(a, rows) } else { S::load(a) };
            for (acc_j, row) in acc.iter_mut().zip(&rows_b) {
                *acc_j = S::mul_add(av, S::splat(*row.add(q)), *acc_j);
            }
            a = a.add(p.lda);
        }
        for (j, &sum) in acc.iter().enumerate() {
            let at = p.c_t.add((j0 + j) * p.ldc + i0);
            if PARTIAL {
                S::store_partial(at, rows, S::add(S::load_partial(at, rows), sum));
            } else {
                S::store(at, S::add(S::load(at), sum));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(len: usize, seed: u32) -> Vec<f32> {
        (0..len).map(|i| ((i as u32).wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000).map(|v| v as f32 / 500.0 - 1.0).collect()
    }

    /// Shapes that take every block: full and partial vectors, row and column remainders.
    const SHAPES: [(usize, usize, usize); 6] = [(1, 1, 1), (3, 7, 5), (16, 50, 27), (13, 67, 9), (70, 129, 11), (8, 48, 144)];

    #[test]
    fn shifted_product_matches_the_definition_on_every_level_with_overlapping_rows() {
        for &(m, n, k) in &SHAPES {
            // Rows of B overlap (offsets 3 apart, as the shifted rows of an image do).
            let b = seeded(3 * k + n + 5, 2);
            let b_off: Vec<usize> = (0..k).map(|q| 3 * q + q % 2).collect();
            for (a_rs, a_cs) in [(k, 1), (1, m)] {
                let a = seeded(m * k, 1);
                let old = seeded(m * (n + 2), 3);
                for &level in SimdLevel::available() {
                    let mut c = old.clone();
                    shifted_product(level, m, n, &a, a_rs, a_cs, &b, &b_off, &mut c, n + 2);
                    for i in 0..m {
                        for j in 0..n + 2 {
                            let got = c[i * (n + 2) + j];
                            if j >= n {
                                assert_eq!(got, old[i * (n + 2) + j], "{level:?} wrote past column n");
                                continue;
                            }
                            let want: f64 = (0..k).map(|q| a[i * a_rs + q * a_cs] as f64 * b[b_off[q] + j] as f64).sum();
                            assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "{level:?} m{m} n{n} k{k} ({i}, {j}): {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn weight_product_matches_the_definition_on_every_level() {
        for &(m, n, l) in &SHAPES {
            let lda = m + 1;
            let a_t = seeded(l * lda, 4);
            let b = seeded(2 * n + l + 3, 5);
            let b_off: Vec<usize> = (0..n).map(|j| 2 * j + j % 3).collect();
            let old = seeded(n * (m + 3), 6);
            for &level in SimdLevel::available() {
                let mut c_t = old.clone();
                weight_product(level, m, n, l, &a_t, lda, &b, &b_off, &mut c_t, m + 3);
                for j in 0..n {
                    for i in 0..m + 3 {
                        let got = c_t[j * (m + 3) + i];
                        if i >= m {
                            assert_eq!(got, old[j * (m + 3) + i], "{level:?} wrote past row m");
                            continue;
                        }
                        let want = old[j * (m + 3) + i] as f64 + (0..l).map(|q| a_t[q * lda + i] as f64 * b[b_off[j] + q] as f64).sum::<f64>();
                        assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "{level:?} m{m} n{n} l{l} ({i}, {j}): {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn each_output_is_the_same_bits_whatever_block_it_falls_in() {
        // Column 0 of a product with n = 1 (the single partial vector) against column 0 of n = 100
        // (a full block): the same sum in the same order.
        let (m, k) = (9, 31);
        let a = seeded(m * k, 7);
        let b = seeded(k * 100, 8);
        let b_off: Vec<usize> = (0..k).map(|q| q * 100).collect();
        for &level in SimdLevel::available() {
            let (mut narrow, mut wide) = (vec![0.0; m], vec![0.0; m * 100]);
            shifted_product(level, m, 1, &a, k, 1, &b, &b_off, &mut narrow, 1);
            shifted_product(level, m, 100, &a, k, 1, &b, &b_off, &mut wide, 100);
            for i in 0..m {
                assert_eq!(narrow[i].to_bits(), wide[i * 100].to_bits(), "{level:?} row {i}");
            }
        }
    }
}
