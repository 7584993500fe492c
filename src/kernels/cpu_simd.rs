//! SIMD for the cpu device's hot loops: one kernel body, written once against the `Simd` trait,
//! compiled for AVX-512, for AVX2 + FMA and portably, and picked at run time by what the
//! processor has (`SimdLevel::chosen`). The direct convolution products (`conv2d_products.rs`)
//! and batch norm's training backward (`batchnorm.rs`) run on it.
//!
//! How a kernel is compiled for a level: `dispatch` calls `SimdOp::run::<S>` from a function
//! marked `#[target_feature]` for that level; `run` and every `Simd` method are
//! `#[inline(always)]`, so the whole body lands inside that function and the intrinsics compile
//! to the level's instructions. The processor is checked before any such function is called.
//!
//! Every output of a kernel is one lane of one accumulator, summed in a fixed order, so a level
//! gives the same bits run after run. Levels may differ from each other in the last bits: the
//! x86 levels fuse multiply-adds, the portable one does not (a fused multiply-add without the
//! instruction is a slow library call).

/// A vector of `LANES` f32 and the operations the kernels use. Pointers must be valid for the
/// lanes a method reads or writes (`n` lanes for the partial ones, `n < LANES`).
pub(crate) trait Simd: Copy {
    const LANES: usize;
    type V: Copy;
    fn zero() -> Self::V;
    fn splat(v: f32) -> Self::V;
    /// # Safety
    /// `p` is valid for `LANES` reads.
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n` lanes from `p`, the rest zero.
    /// # Safety
    /// `p` is valid for `n` reads.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self::V;
    /// # Safety
    /// `p` is valid for `LANES` writes.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The first `n` lanes to `p`.
    /// # Safety
    /// `p` is valid for `n` writes.
    unsafe fn store_partial(p: *mut f32, n: usize, v: Self::V);
    /// a * b + c
    fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(a: Self::V, b: Self::V) -> Self::V;
    fn sub(a: Self::V, b: Self::V) -> Self::V;
    fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// v where `cond > 0`, else 0 (a ReLU's mask: NaN conditions give 0).
    fn where_positive(cond: Self::V, v: Self::V) -> Self::V;
    /// The lanes' sum, added in lane order.
    fn sum_lanes(v: Self::V) -> f32;
}

/// A kernel body, generic over the vector type; `dispatch` compiles and runs it for a level.
pub(crate) trait SimdOp {
    type Output;
    fn run<S: Simd>(self) -> Self::Output;
}

/// The instruction sets the cpu device's kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// 16 lanes (x86-64 with AVX-512F).
    Avx512,
    /// 8 lanes (x86-64 with AVX2 and FMA).
    Avx2,
    /// 8 lanes of plain Rust, on any processor.
    Portable,
}

impl SimdLevel {
    /// The environment variable that picks the level `Device::cpu` runs (`avx512`, `avx2` or
    /// `portable`): results are the same bits only within one level, so pinning one level makes
    /// runs on different processors that have it match.
    pub const ENV: &'static str = "SSDLT_CPU_SIMD";

    /// The level `Device::cpu` runs: `SSDLT_CPU_SIMD` where it names a level this processor has
    /// (`check_env` reports one that does not), else the widest it has.
    pub fn chosen() -> SimdLevel {
        SimdLevel::from_env().ok().flatten().unwrap_or(SimdLevel::available()[0])
    }

    /// `SSDLT_CPU_SIMD`'s level, None when unset; an error naming the fix when it is no level or
    /// one this processor lacks.
    pub fn from_env() -> crate::Result<Option<SimdLevel>> {
        let Some(value) = std::env::var_os(SimdLevel::ENV) else { return Ok(None) };
        let value = value.to_string_lossy();
        let names: Vec<&str> = SimdLevel::available().iter().map(|l| l.name()).collect();
        let level = [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Portable].into_iter().find(|l| l.name() == value.trim());
        match level {
            Some(level) if SimdLevel::available().contains(&level) => Ok(Some(level)),
            Some(_) => Err(crate::Error::invalid(
                SimdLevel::ENV,
                format!("this processor has no {value} instructions; it runs {} (unset {} for the widest)", names.join(", "), SimdLevel::ENV),
            )),
            None => Err(crate::Error::invalid(SimdLevel::ENV, format!("`{value}` is no SIMD level; use one of {} (this processor's)", names.join(", ")))),
        }
    }

    /// Every level this processor runs, widest first (`Portable` always); checked once.
    pub fn available() -> &'static [SimdLevel] {
        static LEVELS: std::sync::OnceLock<Vec<SimdLevel>> = std::sync::OnceLock::new();
        LEVELS.get_or_init(|| {
            let mut levels = Vec::new();
            #[cfg(target_arch = "x86_64")]
            {
                let fma = std::arch::is_x86_feature_detected!("fma");
                if fma && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2") {
                    levels.push(SimdLevel::Avx512);
                }
                if fma && std::arch::is_x86_feature_detected!("avx2") {
                    levels.push(SimdLevel::Avx2);
                }
            }
            levels.push(SimdLevel::Portable);
            levels
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Portable => "portable",
        }
    }
}

/// Runs `op` compiled for `level`.
///
/// Panics if this processor lacks `level` (`SimdLevel::available` lists what it has).
pub(crate) fn dispatch<O: SimdOp>(level: SimdLevel, op: O) -> O::Output {
    assert!(SimdLevel::available().contains(&level), "this processor has no {} instructions", level.name());
    match level {
        // SAFETY: the processor has the features (checked above).
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { x86::run_avx512(op) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { x86::run_avx2(op) },
        #[cfg(not(target_arch = "x86_64"))]
        SimdLevel::Avx512 | SimdLevel::Avx2 => unreachable!("no x86 levels are available off x86-64"),
        SimdLevel::Portable => op.run::<Portable>(),
    }
}

/// Eight lanes in plain Rust: the compiler vectorises what the target allows.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Simd for Portable {
    const LANES: usize = 8;
    type V = [f32; 8];
    #[inline(always)]
    fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    fn splat(v: f32) -> [f32; 8] {
        [v; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable floats.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> [f32; 8] {
        let mut v = [0.0; 8];
        // SAFETY: the caller guarantees n readable floats.
        unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), n) };
        v
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 8]) {
        // SAFETY: the caller guarantees 8 writable floats.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn store_partial(p: *mut f32, n: usize, v: [f32; 8]) {
        // SAFETY: the caller guarantees n writable floats.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), p, n) }
    }
    #[inline(always)]
    fn mul_add(a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn where_positive(cond: [f32; 8], v: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| if cond[i] > 0.0 { v[i] } else { 0.0 })
    }
    #[inline(always)]
    fn sum_lanes(v: [f32; 8]) -> f32 {
        v.iter().fold(0.0, |s, x| s + x)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86-64 levels. Their methods call intrinsics of features the caller's function
    //! enables (`run_avx512`, `run_avx2`), which is what makes calling them sound.

    use std::arch::x86_64::*;

    use super::{Simd, SimdOp};

    #[derive(Clone, Copy)]
    pub(crate) struct Avx512;

    #[derive(Clone, Copy)]
    pub(crate) struct Avx2;

    /// # Safety
    /// The processor has AVX-512F, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn run_avx512<O: SimdOp>(op: O) -> O::Output {
        op.run::<Avx512>()
    }

    /// # Safety
    /// The processor has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_avx2<O: SimdOp>(op: O) -> O::Output {
        op.run::<Avx2>()
    }

    /// Lanes below `n` set.
    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    // SAFETY (every method below): only reached through `run_avx512`, whose caller checked the
    // features; pointer validity is the caller's contract (see `Simd`).
    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        #[inline(always)]
        fn zero() -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn splat(v: f32) -> __m512 {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m512 {
            unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, n: usize, v: __m512) {
            unsafe { _mm512_mask_storeu_ps(p, mask16(n), v) }
        }
        #[inline(always)]
        fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        fn where_positive(cond: __m512, v: __m512) -> __m512 {
            unsafe { _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(cond, _mm512_setzero_ps()), v) }
        }
        #[inline(always)]
        fn sum_lanes(v: __m512) -> f32 {
            let mut lanes = [0f32; 16];
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) };
            lanes.iter().fold(0.0, |s, x| s + x)
        }
    }

    /// For AVX2's masked moves: lane i is all ones where i < n.
    #[inline(always)]
    fn mask8(n: usize) -> __m256i {
        unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
    }

    // SAFETY (every method below): only reached through `run_avx2` (or `run_avx512`, a
    // superset), whose caller checked the features; pointers as in `Simd`.
    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        #[inline(always)]
        fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        fn splat(v: f32) -> __m256 {
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_partial(p: *const f32, n: usize) -> __m256 {
            unsafe { _mm256_maskload_ps(p, mask8(n)) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_partial(p: *mut f32, n: usize, v: __m256) {
            unsafe { _mm256_maskstore_ps(p, mask8(n), v) }
        }
        #[inline(always)]
        fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        fn where_positive(cond: __m256, v: __m256) -> __m256 {
            unsafe { _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(cond, _mm256_setzero_ps()), v) }
        }
        #[inline(always)]
        fn sum_lanes(v: __m256) -> f32 {
            let mut lanes = [0f32; 8];
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
            lanes.iter().fold(0.0, |s, x| s + x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y[i] = a * x[i] + y[i] over a length with a partial last vector, on every level.
    struct Axpy<'a> {
        a: f32,
        x: &'a [f32],
        y: &'a mut [f32],
    }

    impl SimdOp for Axpy<'_> {
        type Output = ();
        #[inline(always)]
        fn run<S: Simd>(self) {
            let n = self.x.len();
            let a = S::splat(self.a);
            let mut i = 0;
            // SAFETY: every access stays below n.
            unsafe {
                while i + S::LANES <= n {
                    let v = S::mul_add(a, S::load(self.x.as_ptr().add(i)), S::load(self.y.as_ptr().add(i)));
                    S::store(self.y.as_mut_ptr().add(i), v);
                    i += S::LANES;
                }
                if i < n {
                    let v = S::mul_add(a, S::load_partial(self.x.as_ptr().add(i), n - i), S::load_partial(self.y.as_ptr().add(i), n - i));
                    S::store_partial(self.y.as_mut_ptr().add(i), n - i, v);
                }
            }
        }
    }

    #[test]
    fn every_available_level_computes_the_same_axpy_with_a_partial_last_vector() {
        let x: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        for &level in SimdLevel::available() {
            // Three floats past the 37 the kernel gets: the partial store must leave them.
            let mut y: Vec<f32> = (0..40).map(|i| 100.0 - i as f32).collect();
            dispatch(level, Axpy { a: 2.0, x: &x, y: &mut y[..37] });
            for (i, v) in y.iter().enumerate() {
                let want = if i < 37 { 2.0 * (i as f32 * 0.5) + 100.0 - i as f32 } else { 100.0 - i as f32 };
                assert_eq!(*v, want, "{} element {i}", level.name());
            }
        }
        assert_eq!(SimdLevel::available().last(), Some(&SimdLevel::Portable));
        assert!(SimdLevel::available().contains(&SimdLevel::chosen()));
    }
}
