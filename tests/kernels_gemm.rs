//! Tests: kernels gemm. Every WGSL GEMM kernel (the tiled one and each unrolled blocking in both
//! orientations, forced on whatever adapter the tests get) against the CPU path and naive loops,
//! for all four transpose combinations, accumulate, and shapes that are not multiples of any block;
//! linear layers by finite differences on both devices; bit-identical reruns.

use ssdlt::kernels::gemm::{
    lane_operand_in_panels, linear_backward, linear_forward, matmul_with, plan_software, plan_unrolled, subgroup_gemm_supported, Blocking, GemmKernel,
    GemmShape, Orientation, SubgroupRows,
};
use ssdlt::kernels::{Device, Tensor};

use crate::common::{assert_close, cpu, devices, gpu, numeric_gradient, process_cpu_seconds, seeded};

const TOLERANCE: f32 = 1e-4;

fn naive(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    for i in 0..s.m {
        for j in 0..s.n {
            let mut acc = 0f64;
            for p in 0..s.k {
                let av = if s.trans_a { a[p * s.m + i] } else { a[i * s.k + p] };
                let bv = if s.trans_b { b[j * s.k + p] } else { b[p * s.n + j] };
                acc += av as f64 * bv as f64;
            }
            let base = if s.accumulate { c[i * s.n + j] as f64 } else { 0.0 };
            c[i * s.n + j] = (base + acc) as f32;
        }
    }
}

fn every_kernel() -> Vec<GemmKernel> {
    let mut kernels = vec![GemmKernel::Auto, GemmKernel::Tiled];
    for blocking in Blocking::ALL {
        for orientation in [Orientation::Columns, Orientation::Rows] {
            kernels.push(GemmKernel::Unrolled(blocking, orientation));
        }
    }
    if subgroup_gemm_supported(&gpu()) {
        for rows in SubgroupRows::ALL {
            kernels.extend([Orientation::Columns, Orientation::Rows].map(|o| GemmKernel::Subgroup(rows, o)));
            kernels.extend([Orientation::Columns, Orientation::Rows].map(|o| GemmKernel::SubgroupTextures(rows, o)));
        }
    }
    kernels
}

struct Inputs {
    a: Vec<f32>,
    b: Vec<f32>,
    c0: Vec<f32>,
}

fn inputs(s: &GemmShape, seed: u64) -> Inputs {
    Inputs { a: seeded(s.m * s.k, seed, 1.0), b: seeded(s.k * s.n, seed + 1, 1.0), c0: seeded(s.m * s.n, seed + 2, 1.0) }
}

fn run(dev: &Device, kernel: GemmKernel, s: &GemmShape, x: &Inputs) -> Vec<f32> {
    let a = dev.from_f32(&[s.m * s.k], &x.a);
    let b = dev.from_f32(&[s.k * s.n], &x.b);
    let c = dev.from_f32(&[s.m * s.n], &x.c0);
    matmul_with(dev, kernel, s, &a, &b, &c);
    c.to_vec()
}

const AWKWARD: [(usize, usize, usize); 7] =
    [(1, 1, 1), (1, 37, 19), (33, 1, 7), (67, 45, 13), (130, 129, 65), (9, 300, 3), (261, 17, 40)];

#[test]
fn every_wgsl_gemm_kernel_matches_cpu_and_naive_loops_for_all_transposes_and_awkward_shapes() {
    let (cpu, gpu) = (cpu(), gpu());
    let mut seed = 10;
    for (m, n, k) in AWKWARD {
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            for accumulate in [false, true] {
                let s = GemmShape { m, n, k, trans_a, trans_b, accumulate };
                seed += 3;
                let x = inputs(&s, seed);
                let mut want = x.c0.clone();
                naive(&s, &x.a, &x.b, &mut want);
                assert_close(&format!("cpu {s:?}"), &run(&cpu, GemmKernel::Auto, &s, &x), &want, TOLERANCE);
                for kernel in every_kernel() {
                    assert_close(&format!("wgpu {kernel:?} {s:?}"), &run(&gpu, kernel, &s, &x), &want, TOLERANCE);
                }
            }
        }
    }
}

#[test]
fn conv_like_tall_and_wide_shapes_match_cpu_with_the_planned_kernel() {
    let (cpu, gpu) = (cpu(), gpu());
    // Scaled-down versions of the conv lowering shapes (dX, dW, forward with Cout = 16).
    for (m, n, k, trans_a, trans_b) in
        [(2051, 37, 32, true, false), (2048, 288, 32, false, false), (288, 32, 2049, false, true), (4099, 16, 144, false, true), (37, 29, 1500, true, false)]
    {
        let s = GemmShape { m, n, k, trans_a, trans_b, accumulate: false };
        let x = inputs(&s, (m + n + k) as u64);
        let want = run(&cpu, GemmKernel::Auto, &s, &x);
        assert_close(&format!("wgpu {s:?} planned {:?}", plan_unrolled(&s)), &run(&gpu, GemmKernel::Auto, &s, &x), &want, TOLERANCE);
    }
}

/// Lane operands of whole 64-column panels, read where they lie, go to the texture kernels panel
/// by panel (`gemm_texture_panels_*`): every row block, both orientations, accumulate, against
/// the cpu GEMM; packed or ragged ones do not.
#[test]
fn the_texture_kernel_reads_lane_operands_of_whole_panels_in_panels_and_matches_cpu() {
    let (cpu, gpu) = (cpu(), gpu());
    let shape = |m, n, k, trans_a, trans_b, accumulate| GemmShape { m, n, k, trans_a, trans_b, accumulate };
    // (shape, orientation): B [k, n] with n = 128 / 192 for columns, A^T [k, m] with m = 128 for rows.
    let cases = [
        (shape(37, 128, 36, false, false, false), Orientation::Columns),
        (shape(130, 192, 1028, true, false, true), Orientation::Columns),
        (shape(128, 37, 36, true, false, true), Orientation::Rows),
        (shape(128, 5, 100, true, true, false), Orientation::Rows),
    ];
    for (s, orientation) in cases {
        assert!(lane_operand_in_panels(&s, orientation, 16384), "{s:?} {orientation:?}");
    }
    assert!(!lane_operand_in_panels(&shape(37, 128, 36, false, true, false), Orientation::Columns, 16384), "B^T is packed first");
    assert!(!lane_operand_in_panels(&shape(37, 130, 36, false, false, false), Orientation::Columns, 16384), "130 columns are no whole panels");
    assert!(!lane_operand_in_panels(&shape(37, 128, 36, false, false, false), Orientation::Columns, 64), "2 x 36 rows past 64");
    if !subgroup_gemm_supported(&gpu) {
        eprintln!("no subgroups of 8 on this adapter: the texture kernel does not run here");
        return;
    }
    for (s, orientation) in cases {
        let x = inputs(&s, (s.m * 5 + s.n + s.k) as u64);
        let want = run(&cpu, GemmKernel::Auto, &s, &x);
        for rows in SubgroupRows::ALL {
            let kernel = GemmKernel::SubgroupTextures(rows, orientation);
            assert_close(&format!("wgpu {kernel:?} {s:?}"), &run(&gpu, kernel, &s, &x), &want, TOLERANCE);
        }
    }
}

/// Operands of more than one texture row (4096 vec4s), with a partial last row, in both
/// orientations and every row block, against the cpu GEMM.
#[test]
fn the_texture_subgroup_kernel_matches_cpu_on_operands_spanning_several_texture_rows() {
    let (cpu, gpu) = (cpu(), gpu());
    if !subgroup_gemm_supported(&gpu) {
        eprintln!("no subgroups of 8 on this adapter: the texture kernel does not run here");
        return;
    }
    // Batch 1; odd sizes that are no multiple of the 64-column tile; k past 4 * 4096 / n.
    for (m, n, k, trans_a, trans_b) in [(1, 1030, 70, false, false), (37, 515, 131, true, false), (130, 9, 2051, false, true)] {
        let s = GemmShape { m, n, k, trans_a, trans_b, accumulate: false };
        let x = inputs(&s, (m * 7 + n + k) as u64);
        let want = run(&cpu, GemmKernel::Auto, &s, &x);
        for rows in SubgroupRows::ALL {
            for orientation in [Orientation::Columns, Orientation::Rows] {
                let kernel = GemmKernel::SubgroupTextures(rows, orientation);
                assert_close(&format!("wgpu {kernel:?} {s:?}"), &run(&gpu, kernel, &s, &x), &want, TOLERANCE);
            }
        }
    }
}

#[test]
fn an_empty_inner_dimension_gives_zeros_or_keeps_c_when_accumulating() {
    for dev in devices() {
        for kernel in every_kernel() {
            for accumulate in [false, true] {
                let s = GemmShape { m: 5, n: 3, k: 0, trans_a: false, trans_b: true, accumulate };
                let x = inputs(&s, 99);
                let want = if accumulate { x.c0.clone() } else { vec![0.0; 15] };
                assert_eq!(run(&dev, kernel, &s, &x), want, "{} {kernel:?} {s:?}", dev.name());
            }
        }
    }
}

#[test]
fn software_adapters_with_subgroups_of_eight_plan_the_subgroup_kernel_for_large_products() {
    let big = GemmShape { m: 1024, n: 1024, k: 1024, trans_a: false, trans_b: false, accumulate: false };
    // 32 rows: since the accumulator-inner order (session 5) the fastest block per CPU-second at
    // 1024^3, with B in panels too (where 64 rows led before the reorder).
    assert_eq!(plan_software(&big, true, 16384), GemmKernel::SubgroupTextures(SubgroupRows::R32, Orientation::Columns));
    assert!(lane_operand_in_panels(&big, Orientation::Columns, 16384));
    // 16 rows (a convolution with 16 output channels) take the 16-row block, not a padded 64.
    let conv = GemmShape { m: 16, n: 131072, k: 144, trans_a: false, trans_b: false, accumulate: false };
    assert_eq!(plan_software(&conv, true, 16384), GemmKernel::SubgroupTextures(SubgroupRows::R16, Orientation::Columns));
    // Where the operands do not fit the adapter's textures, the subgroup kernel reads storage.
    assert_eq!(plan_software(&big, true, 2048), GemmKernel::Subgroup(SubgroupRows::R64, Orientation::Columns));
    assert_eq!(plan_software(&conv, true, 1024), GemmKernel::Subgroup(SubgroupRows::R16, Orientation::Columns));
    assert_eq!(plan_software(&big, false, 16384), GemmKernel::Unrolled(Blocking::B16x16, Orientation::Columns));
    let dev = gpu();
    let report = dev.gpu().unwrap().report();
    if report.name.contains("llvmpipe") && report.backend == "Vulkan" {
        assert!(subgroup_gemm_supported(&dev), "lavapipe offers subgroups of 8, which the fast GEMM needs");
    }
}

#[test]
fn the_plan_puts_simd_lanes_along_the_long_dimension_of_conv_shapes() {
    let shape = |m, n, k, trans_a, trans_b| GemmShape { m, n, k, trans_a, trans_b, accumulate: false };
    assert_eq!(plan_unrolled(&shape(1024, 1024, 1024, false, false)), (Blocking::B16x16, Orientation::Columns));
    assert_eq!(plan_unrolled(&shape(131072, 16, 144, true, true)).1, Orientation::Rows);
    assert_eq!(plan_unrolled(&shape(288, 32, 16384, true, false)).1, Orientation::Rows);
    // n = 288 pads to 384 along 128-wide column blocks; lanes along the 16384 rows waste nothing.
    assert_eq!(plan_unrolled(&shape(16384, 288, 32, false, false)).1, Orientation::Rows);
}

fn linear_naive(x: &[f32], w: &[f32], bias: Option<&[f32]>, n: usize, inp: usize, out: usize) -> Vec<f32> {
    let mut y = vec![0f32; n * out];
    for r in 0..n {
        for o in 0..out {
            let mut acc = bias.map_or(0.0, |b| b[o] as f64);
            for i in 0..inp {
                acc += x[r * inp + i] as f64 * w[o * inp + i] as f64;
            }
            y[r * out + o] = acc as f32;
        }
    }
    y
}

#[test]
fn linear_forward_matches_naive_loops_on_both_devices() {
    for dev in devices() {
        for (n, inp, out) in [(1, 5, 3), (7, 33, 10), (65, 100, 130)] {
            let xv = seeded(n * inp, 1, 1.0);
            let wv = seeded(out * inp, 2, 0.5);
            let bv = seeded(out, 3, 1.0);
            let x = dev.from_f32(&[n, inp], &xv);
            let w = dev.from_f32(&[out, inp], &wv);
            let b = dev.from_f32(&[out], &bv);
            let y = dev.zeros(&[n, out]);
            linear_forward(&dev, &x, &w, Some(&b), &y);
            assert_close(&format!("{} bias {n}x{inp}->{out}", dev.name()), &y.to_vec(), &linear_naive(&xv, &wv, Some(&bv), n, inp, out), TOLERANCE);
            linear_forward(&dev, &x, &w, None, &y);
            assert_close(&format!("{} no bias {n}x{inp}->{out}", dev.name()), &y.to_vec(), &linear_naive(&xv, &wv, None, n, inp, out), TOLERANCE);
        }
    }
}

/// sum(y * r) for y = linear(x, w, b): its gradients are dx, dw, db with dy = r.
fn linear_objective(dev: &Device, shape: (usize, usize, usize), x: &[f32], w: &[f32], b: &[f32], r: &[f32]) -> f64 {
    let (n, inp, out) = shape;
    let y = dev.zeros(&[n, out]);
    linear_forward(dev, &dev.from_f32(&[n, inp], x), &dev.from_f32(&[out, inp], w), Some(&dev.from_f32(&[out], b)), &y);
    y.to_vec().iter().zip(r).map(|(y, r)| *y as f64 * *r as f64).sum()
}

#[test]
fn linear_backward_matches_finite_differences_on_both_devices() {
    for dev in devices() {
        for shape @ (n, inp, out) in [(1, 3, 2), (3, 5, 4), (6, 9, 7)] {
            let (xv, wv, bv, r) = (seeded(n * inp, 4, 1.0), seeded(out * inp, 5, 1.0), seeded(out, 6, 1.0), seeded(n * out, 7, 1.0));
            let (x, w, dy) = (dev.from_f32(&[n, inp], &xv), dev.from_f32(&[out, inp], &wv), dev.from_f32(&[n, out], &r));
            let (dx, dw, db) = (dev.zeros(&[n, inp]), dev.zeros(&[out, inp]), dev.zeros(&[out]));
            linear_backward(&dev, &x, &w, &dy, Some(&dx), &dw, Some(&db));
            let eps = 1e-2;
            let what = |g: &str| format!("{} d{g} {shape:?}", dev.name());
            let num_dx = numeric_gradient(&xv, eps, |x| linear_objective(&dev, shape, x, &wv, &bv, &r));
            assert_close(&what("x"), &dx.to_vec(), &num_dx, 1e-3);
            let num_dw = numeric_gradient(&wv, eps, |w| linear_objective(&dev, shape, &xv, w, &bv, &r));
            assert_close(&what("w"), &dw.to_vec(), &num_dw, 1e-3);
            let num_db = numeric_gradient(&bv, eps, |b| linear_objective(&dev, shape, &xv, &wv, b, &r));
            assert_close(&what("b"), &db.to_vec(), &num_db, 1e-3);
        }
    }
}

fn backward_on(dev: &Device, shape: (usize, usize, usize), with_dx: bool, with_db: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, inp, out) = shape;
    let x = dev.from_f32(&[n, inp], &seeded(n * inp, 8, 1.0));
    let w = dev.from_f32(&[out, inp], &seeded(out * inp, 9, 1.0));
    let dy = dev.from_f32(&[n, out], &seeded(n * out, 10, 1.0));
    let (dx, dw, db) = (dev.zeros(&[n, inp]), dev.zeros(&[out, inp]), dev.zeros(&[out]));
    linear_backward(dev, &x, &w, &dy, with_dx.then_some(&dx), &dw, with_db.then_some(&db));
    (dx.to_vec(), dw.to_vec(), db.to_vec())
}

#[test]
fn linear_backward_on_wgpu_matches_cpu_and_skips_absent_gradients() {
    for (shape, with_dx, with_db) in [((128, 64, 10), true, true), ((33, 70, 100), false, true), ((1, 17, 3), true, false)] {
        let want = backward_on(&cpu(), shape, with_dx, with_db);
        let got = backward_on(&gpu(), shape, with_dx, with_db);
        assert_close(&format!("dx {shape:?}"), &got.0, &want.0, TOLERANCE);
        assert_close(&format!("dw {shape:?}"), &got.1, &want.1, TOLERANCE);
        assert_close(&format!("db {shape:?}"), &got.2, &want.2, TOLERANCE);
        if !with_dx {
            assert!(got.0.iter().all(|v| *v == 0.0), "dx written although not asked for");
        }
        if !with_db {
            assert!(got.2.iter().all(|v| *v == 0.0), "db written although not asked for");
        }
    }
}

#[test]
fn two_runs_are_bit_identical_on_both_devices() {
    for dev in devices() {
        let s = GemmShape { m: 300, n: 257, k: 513, trans_a: true, trans_b: true, accumulate: true };
        let x = inputs(&s, 77);
        assert_eq!(run(&dev, GemmKernel::Auto, &s, &x), run(&dev, GemmKernel::Auto, &s, &x), "{} matmul", dev.name());
        let shape = (257, 129, 65);
        assert_eq!(backward_on(&dev, shape, true, true), backward_on(&dev, shape, true, true), "{} linear_backward", dev.name());
    }
}

/// (best wall-clock GFLOP/s, GFLOP per CPU-second of this process) over at least `reps` runs and
/// `seconds` of wall time.
fn gflops(dev: &Device, kernel: GemmKernel, s: &GemmShape, reps: usize, seconds: f64) -> (f64, f64) {
    let a = dev.from_f32(&[s.m * s.k], &seeded(s.m * s.k, 1, 1.0));
    let b = dev.from_f32(&[s.k * s.n], &seeded(s.k * s.n, 2, 1.0));
    let c: Tensor = dev.zeros(&[s.m * s.n]);
    matmul_with(dev, kernel, s, &a, &b, &c);
    dev.wait();
    // Best of the runs: the machines are shared, the fastest run is the one least disturbed.
    let (start, cpu_start) = (std::time::Instant::now(), process_cpu_seconds());
    let (mut best, mut runs) = (f64::INFINITY, 0);
    while runs < reps || start.elapsed().as_secs_f64() < seconds {
        let t = std::time::Instant::now();
        matmul_with(dev, kernel, s, &a, &b, &c);
        dev.wait();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    let cpu_seconds = (process_cpu_seconds() - cpu_start).max(0.01);
    (s.flops() / best / 1e9, s.flops() * runs as f64 / cpu_seconds / 1e9)
}

/// `cargo test kernels_gemm::gemm_throughput -- --ignored --nocapture`: per shape and kernel, best
/// wall-clock GFLOP/s / GFLOP per CPU-second (GEMM_SECONDS: wall seconds per kernel, default 0).
#[test]
#[ignore = "a measurement, not a check: run by hand"]
fn gemm_throughput_report() {
    let shapes = [
        ("1024^3", GemmShape { m: 1024, n: 1024, k: 1024, trans_a: false, trans_b: false, accumulate: false }),
        ("dX 16384x288x32", GemmShape { m: 16384, n: 288, k: 32, trans_a: false, trans_b: false, accumulate: false }),
        ("dW 288x32x16384", GemmShape { m: 288, n: 32, k: 16384, trans_a: true, trans_b: false, accumulate: false }),
        ("fwd 131072x16x144", GemmShape { m: 131072, n: 16, k: 144, trans_a: false, trans_b: true, accumulate: false }),
        ("conv 16384x32x288", GemmShape { m: 16384, n: 32, k: 288, trans_a: false, trans_b: false, accumulate: false }),
    ];
    let only = std::env::var("GEMM_KERNELS").unwrap_or_default();
    let filter = std::env::var("GEMM_SHAPES").unwrap_or_default();
    let seconds: f64 = std::env::var("GEMM_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    for (name, s) in shapes.into_iter().filter(|(name, _)| name.contains(&filter)) {
        let (cpu_wall, cpu_per_s) = gflops(&cpu(), GemmKernel::Auto, &s, 10, 0.0);
        let mut line = format!("{name:>20} {:?}: cpu {cpu_wall:.1} / {cpu_per_s:.1}", (s.trans_a, s.trans_b));
        // GEMM_KERNELS: "all", or pieces of the kernels' names separated by '|' ("R64, Columns|
        // B16x16, Columns"); unset: Auto only.
        let kernels = match only.as_str() {
            "" => vec![GemmKernel::Auto],
            "all" => every_kernel(),
            pieces => every_kernel().into_iter().filter(|k| pieces.split('|').any(|piece| format!("{k:?}").contains(piece))).collect(),
        };
        for kernel in kernels {
            let (wall, per_s) = gflops(&gpu(), kernel, &s, 5, seconds);
            line += &format!(" | {kernel:?} {wall:.1} / {per_s:.1}");
        }
        println!("{line}  (planned {:?})", plan_unrolled(&s));
    }
}
