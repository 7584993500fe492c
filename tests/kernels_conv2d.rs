//! Tests: kernels conv2d. The CPU path against naive loops, WGSL against the CPU, both backwards
//! against finite differences on both devices, and bit-identical repeats. An ignored test measures
//! GFLOP/s on the ResNet-32 layer shapes:
//! `cargo test --release kernels_conv2d::resnet32 -- --ignored --nocapture`.

use ssdlt::kernels::conv2d::{
    conv2d_backward_data_with, conv2d_backward_weight_with, conv2d_forward, conv2d_forward_with, plan_software,
    Conv2dShape, ConvKernel, conv2d_plan, conv2d_texture_reads_in_place,
};
use ssdlt::kernels::cpu_simd::SimdLevel;
use ssdlt::kernels::Device;

use crate::common;

/// Serializes this file's tests that read back from the shared wgpu device: the context's
/// readback staging buffers are cached per size and not locked across copy/map/read, so two
/// concurrent readbacks of equal size can see each other's data (reported upstream).
fn gpu_readbacks() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(clippy::too_many_arguments)]
fn shape(n: usize, c_in: usize, h: usize, w: usize, c_out: usize, k: usize, stride: usize, pad: usize, groups: usize) -> Conv2dShape {
    Conv2dShape { n, c_in, h, w, c_out, kh: k, kw: k, stride, pad, groups }
}

fn x_shape(s: &Conv2dShape) -> [usize; 4] {
    [s.n, s.c_in, s.h, s.w]
}
fn w_shape(s: &Conv2dShape) -> [usize; 4] {
    [s.c_out, s.c_in / s.groups, s.kh, s.kw]
}
fn y_shape(s: &Conv2dShape) -> [usize; 4] {
    [s.n, s.c_out, s.out_h(), s.out_w()]
}
fn len(dims: [usize; 4]) -> usize {
    dims.iter().product()
}

/// The definition, one output at a time (f64 accumulation).
fn naive_forward(s: &Conv2dShape, x: &[f32], w: &[f32]) -> Vec<f32> {
    let (oh, ow, cin_g, cout_g) = (s.out_h(), s.out_w(), s.c_in / s.groups, s.c_out / s.groups);
    let mut y = vec![0f32; len(y_shape(s))];
    for n in 0..s.n {
        for co in 0..s.c_out {
            let g = co / cout_g;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = 0f64;
                    for ci in 0..cin_g {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let ih = (i * s.stride + ky) as isize - s.pad as isize;
                                let iw = (j * s.stride + kx) as isize - s.pad as isize;
                                if ih < 0 || iw < 0 || ih >= s.h as isize || iw >= s.w as isize {
                                    continue;
                                }
                                let xv = x[((n * s.c_in + g * cin_g + ci) * s.h + ih as usize) * s.w + iw as usize];
                                let wv = w[((co * cin_g + ci) * s.kh + ky) * s.kw + kx];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    y[((n * s.c_out + co) * oh + i) * ow + j] = acc as f32;
                }
            }
        }
    }
    y
}

/// Backward-data and backward-weight by the transposed loops of the definition.
fn naive_backward(s: &Conv2dShape, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (oh, ow, cin_g, cout_g) = (s.out_h(), s.out_w(), s.c_in / s.groups, s.c_out / s.groups);
    let mut dx = vec![0f64; x.len()];
    let mut dw = vec![0f64; w.len()];
    for n in 0..s.n {
        for co in 0..s.c_out {
            let g = co / cout_g;
            for i in 0..oh {
                for j in 0..ow {
                    let d = dy[((n * s.c_out + co) * oh + i) * ow + j] as f64;
                    for ci in 0..cin_g {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let ih = (i * s.stride + ky) as isize - s.pad as isize;
                                let iw = (j * s.stride + kx) as isize - s.pad as isize;
                                if ih < 0 || iw < 0 || ih >= s.h as isize || iw >= s.w as isize {
                                    continue;
                                }
                                let xi = ((n * s.c_in + g * cin_g + ci) * s.h + ih as usize) * s.w + iw as usize;
                                let wi = ((co * cin_g + ci) * s.kh + ky) * s.kw + kx;
                                dx[xi] += d * w[wi] as f64;
                                dw[wi] += d * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (dx.into_iter().map(|v| v as f32).collect(), dw.into_iter().map(|v| v as f32).collect())
}

/// (y, dx, dw) of one device for seeded x, w, dy.
fn run_all(dev: &Device, s: &Conv2dShape, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    run_all_with(dev, ConvKernel::Auto, s, x, w, dy)
}

/// `run_all` with the WGSL kernel forced.
fn run_all_with(dev: &Device, kernel: ConvKernel, s: &Conv2dShape, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let xt = dev.from_f32(&x_shape(s), x);
    let wt = dev.from_f32(&w_shape(s), w);
    let dyt = dev.from_f32(&y_shape(s), dy);
    let y = dev.zeros(&y_shape(s));
    let dx = dev.from_f32(&x_shape(s), &vec![7.0; x.len()]);
    let dw = dev.from_f32(&w_shape(s), &vec![7.0; w.len()]);
    conv2d_forward_with(dev, kernel, s, &xt, &wt, &y);
    conv2d_backward_data_with(dev, kernel, s, &dyt, &wt, &dx);
    conv2d_backward_weight_with(dev, kernel, s, &xt, &dyt, &dw);
    (y.to_vec(), dx.to_vec(), dw.to_vec())
}

fn inputs(s: &Conv2dShape, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    (
        common::seeded(len(x_shape(s)), seed, 1.0),
        common::seeded(len(w_shape(s)), seed + 1, 0.5),
        common::seeded(len(y_shape(s)), seed + 2, 1.0),
    )
}

/// Awkward shapes: batch 1, odd sizes, channels that fill no tile, strides with odd inputs,
/// pointwise strided, groups, the 7x7 stem, padding wider than the kernel (input pixels no tap
/// reaches from inside dy) and stride 3.
fn awkward_shapes() -> Vec<Conv2dShape> {
    vec![
        shape(1, 3, 7, 5, 5, 3, 1, 1, 1),
        shape(2, 5, 9, 11, 7, 3, 2, 1, 1),
        shape(3, 6, 5, 7, 10, 1, 2, 0, 1),
        shape(2, 4, 6, 6, 6, 1, 1, 0, 2),
        shape(2, 8, 7, 9, 12, 3, 1, 1, 4),
        shape(1, 3, 15, 13, 9, 7, 2, 3, 1),
        shape(2, 16, 8, 8, 16, 3, 2, 1, 16),
        shape(1, 2, 4, 4, 3, 5, 1, 1, 1),
        shape(2, 3, 5, 6, 4, 1, 1, 1, 1),
        shape(1, 4, 10, 11, 5, 3, 3, 2, 1),
    ]
}

#[test]
fn conv_output_sizes_and_flops_follow_pytorch() {
    let s = shape(2, 3, 32, 32, 16, 3, 1, 1, 1);
    assert_eq!((s.out_h(), s.out_w()), (32, 32));
    assert_eq!(s.flops(), 2.0 * 2.0 * 16.0 * 1024.0 * 27.0);
    let stem = shape(1, 3, 224, 223, 64, 7, 2, 3, 1);
    assert_eq!((stem.out_h(), stem.out_w()), (112, 112));
    let g = shape(1, 8, 5, 5, 12, 1, 2, 0, 4);
    assert_eq!((g.out_h(), g.out_w()), (3, 3));
    assert_eq!(g.flops(), 2.0 * 12.0 * 9.0 * 2.0);
}

#[test]
fn cpu_conv_matches_naive_loops_forward_and_backward_on_every_simd_level() {
    for &level in SimdLevel::available() {
        let dev = Device::cpu_with_simd(level);
        for (i, s) in awkward_shapes().iter().enumerate() {
            let (x, w, dy) = inputs(s, 10 + i as u64);
            let (y, dx, dw) = run_all(&dev, s, &x, &w, &dy);
            let (ndx, ndw) = naive_backward(s, &x, &w, &dy);
            common::assert_close(&format!("{level:?} forward {s:?}"), &y, &naive_forward(s, &x, &w), 1e-5);
            common::assert_close(&format!("{level:?} backward data {s:?}"), &dx, &ndx, 1e-5);
            common::assert_close(&format!("{level:?} backward weight {s:?}"), &dw, &ndw, 1e-5);
        }
    }
}

#[test]
fn cpu_conv_matches_naive_loops_on_a_batch_split_over_threads() {
    let dev = common::cpu();
    let s = shape(11, 6, 6, 5, 4, 3, 1, 1, 2);
    let (x, w, dy) = inputs(&s, 3);
    let (y, dx, dw) = run_all(&dev, &s, &x, &w, &dy);
    let (ndx, ndw) = naive_backward(&s, &x, &w, &dy);
    common::assert_close("forward", &y, &naive_forward(&s, &x, &w), 1e-5);
    common::assert_close("backward data", &dx, &ndx, 1e-5);
    common::assert_close("backward weight", &dw, &ndw, 1e-5);
}

#[test]
fn wgsl_conv_matches_cpu_on_awkward_shapes() {
    let _serial = gpu_readbacks();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (i, s) in awkward_shapes().iter().enumerate() {
        let (x, w, dy) = inputs(s, 40 + i as u64);
        let (cy, cdx, cdw) = run_all(&cpu, s, &x, &w, &dy);
        let (gy, gdx, gdw) = run_all(&gpu, s, &x, &w, &dy);
        common::assert_close(&format!("forward {s:?}"), &gy, &cy, 1e-4);
        common::assert_close(&format!("backward data {s:?}"), &gdx, &cdx, 1e-4);
        common::assert_close(&format!("backward weight {s:?}"), &gdw, &cdw, 1e-4);
    }
}

#[test]
fn each_wgsl_conv_kernel_matches_cpu_on_awkward_shapes() {
    let _serial = gpu_readbacks();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    // Ungrouped awkward shapes (the lowering needs groups = 1) plus a reduction of 27 rows
    // (not whole vec4s) and 70 output channels (no whole tile).
    let mut shapes: Vec<Conv2dShape> = awkward_shapes().into_iter().filter(|s| s.groups == 1).collect();
    shapes.push(shape(2, 3, 9, 8, 70, 3, 1, 1, 1));
    for kernel in [ConvKernel::Implicit, ConvKernel::Lowered, ConvKernel::Textures] {
        for (i, s) in shapes.iter().enumerate() {
            let (x, w, dy) = inputs(s, 60 + i as u64);
            let (cy, cdx, cdw) = run_all(&cpu, s, &x, &w, &dy);
            let (gy, gdx, gdw) = run_all_with(&gpu, kernel, s, &x, &w, &dy);
            common::assert_close(&format!("{kernel:?} forward {s:?}"), &gy, &cy, 1e-4);
            common::assert_close(&format!("{kernel:?} backward data {s:?}"), &gdx, &cdx, 1e-4);
            common::assert_close(&format!("{kernel:?} backward weight {s:?}"), &gdw, &cdw, 1e-4);
        }
    }
}

/// 3x3 and 1x1 shapes the texture kernels take: odd sizes and batch 1, stride 2 on odd and even
/// inputs (one or two taps per phase), 1x1 strides 2 (phases with no taps at all), channels that
/// fill no group of 4 and no block of 16 (3, 5, 70), and more positions than one workgroup; then
/// shapes whose passes read x and dy as they lie (`PLAIN_SHAPES`).
fn texture_shapes() -> Vec<Conv2dShape> {
    let mut shapes = vec![
        shape(1, 3, 7, 5, 5, 3, 1, 1, 1),
        shape(2, 5, 9, 11, 7, 3, 2, 1, 1),
        shape(3, 6, 5, 7, 10, 1, 2, 0, 1),
        shape(2, 16, 8, 8, 32, 3, 2, 1, 1),
        shape(3, 13, 17, 19, 70, 3, 1, 1, 1),
        shape(2, 4, 8, 8, 18, 1, 1, 0, 1),
        shape(2, 6, 8, 12, 5, 1, 2, 0, 1),
        shape(2, 7, 3, 3, 9, 3, 1, 0, 1),
    ];
    shapes.extend(PLAIN_SHAPES);
    shapes
}

/// 3x3 shapes with padding 1 the plain texture kernels take (all three passes): one run of 8 columns per row and batch 1 (the stem:
/// 3 input channels, so backward-data has 3 rows), 5 channels and 20 rows (partial groups and
/// blocks), stride 2 with a ragged last workgroup (15 runs), and 4 rows.
const PLAIN_SHAPES: [Conv2dShape; 5] = [
    Conv2dShape { n: 1, c_in: 3, h: 8, w: 8, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 },
    Conv2dShape { n: 2, c_in: 5, h: 6, w: 16, c_out: 20, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 },
    Conv2dShape { n: 3, c_in: 6, h: 10, w: 16, c_out: 7, kh: 3, kw: 3, stride: 2, pad: 1, groups: 1 },
    Conv2dShape { n: 2, c_in: 16, h: 16, w: 32, c_out: 32, kh: 3, kw: 3, stride: 2, pad: 1, groups: 1 },
    Conv2dShape { n: 1, c_in: 4, h: 4, w: 8, c_out: 4, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1 },
];

#[test]
fn plain_texture_kernels_take_whole_runs_of_3x3_pad_1_and_leave_the_rest_packed() {
    let gpu = common::gpu();
    for s in PLAIN_SHAPES {
        assert!(conv2d_texture_reads_in_place(&gpu, &s), "{s:?}");
    }
    for (name, s) in resnet32_layers() {
        assert!(conv2d_texture_reads_in_place(&gpu, &s), "{name}");
    }
    for s in &texture_shapes()[..8] {
        assert!(!conv2d_texture_reads_in_place(&gpu, s), "{s:?} is not whole runs of 3x3 with padding 1");
    }
    assert!(!conv2d_texture_reads_in_place(&common::cpu(), &PLAIN_SHAPES[0]));
}

#[test]
fn texture_conv_kernels_match_cpu_forward_and_backward() {
    let _serial = gpu_readbacks();
    let (cpu, gpu) = (common::cpu(), common::gpu());
    for (i, s) in texture_shapes().iter().enumerate() {
        assert_eq!(conv2d_plan(&gpu, s), Some(ConvKernel::Textures), "{s:?} should take the texture kernels");
        let (x, w, dy) = inputs(s, 90 + i as u64);
        let (cy, cdx, cdw) = run_all(&cpu, s, &x, &w, &dy);
        let (gy, gdx, gdw) = run_all_with(&gpu, ConvKernel::Textures, s, &x, &w, &dy);
        common::assert_close(&format!("forward {s:?}"), &gy, &cy, 1e-4);
        common::assert_close(&format!("backward data {s:?}"), &gdx, &cdx, 1e-4);
        common::assert_close(&format!("backward weight {s:?}"), &gdw, &cdw, 1e-4);
    }
}

#[test]
fn software_plan_lowers_ungrouped_convs_that_fit_a_binding_onto_the_gemm() {
    let s = shape(128, 16, 32, 32, 16, 3, 1, 1, 1);
    assert_eq!(plan_software(&s, true, 128 << 20), ConvKernel::Lowered);
    assert_eq!(plan_software(&s, false, 128 << 20), ConvKernel::Implicit, "without subgroups");
    assert_eq!(plan_software(&s, true, 64 << 20), ConvKernel::Implicit, "75 MiB of columns past a 64 MiB binding");
    assert_eq!(plan_software(&Conv2dShape { groups: 2, ..s }, true, 128 << 20), ConvKernel::Implicit, "grouped");
}

#[test]
fn wgsl_conv_matches_cpu_when_blocks_and_slices_are_partly_filled() {
    let _serial = gpu_readbacks();
    // 70 channels (8-blocks with a remainder), 3 workgroup tiles with a ragged end, and more
    // positions than backward-weight slices.
    let (cpu, gpu) = (common::cpu(), common::gpu());
    let s = shape(3, 13, 17, 19, 70, 3, 1, 1, 1);
    let (x, w, dy) = inputs(&s, 77);
    let (cy, cdx, cdw) = run_all(&cpu, &s, &x, &w, &dy);
    let (gy, gdx, gdw) = run_all(&gpu, &s, &x, &w, &dy);
    common::assert_close("forward", &gy, &cy, 1e-4);
    common::assert_close("backward data", &gdx, &cdx, 1e-4);
    common::assert_close("backward weight", &gdw, &cdw, 1e-4);
}

/// Both backwards against central differences of L = sum(y * r) on `dev`.
fn check_gradients_by_finite_differences(dev: &Device, s: &Conv2dShape, seed: u64) {
    let (x, w, r) = inputs(s, seed);
    let loss = |x: &[f32], w: &[f32]| -> f64 {
        let y = dev.zeros(&y_shape(s));
        conv2d_forward(dev, s, &dev.from_f32(&x_shape(s), x), &dev.from_f32(&w_shape(s), w), &y);
        y.to_vec().iter().zip(&r).map(|(a, b)| *a as f64 * *b as f64).sum()
    };
    let (_, dx, dw) = run_all(dev, s, &x, &w, &r);
    let ndx = common::numeric_gradient(&x, 1e-2, |x| loss(x, &w));
    let ndw = common::numeric_gradient(&w, 1e-2, |w| loss(&x, w));
    common::assert_close(&format!("{}: dx {s:?}", dev.name()), &dx, &ndx, 2e-3);
    common::assert_close(&format!("{}: dw {s:?}", dev.name()), &dw, &ndw, 2e-3);
}

#[test]
fn conv_backwards_match_finite_differences_on_both_devices() {
    let _serial = gpu_readbacks();
    for dev in common::devices() {
        check_gradients_by_finite_differences(&dev, &shape(1, 3, 5, 4, 4, 3, 2, 1, 1), 5);
        check_gradients_by_finite_differences(&dev, &shape(2, 4, 4, 3, 6, 3, 1, 1, 2), 6);
        check_gradients_by_finite_differences(&dev, &shape(1, 2, 5, 5, 3, 1, 2, 0, 1), 7);
    }
}

#[test]
fn conv_repeats_are_bit_identical_on_both_devices() {
    let _serial = gpu_readbacks();
    // Grouped (implicit kernels on every adapter) and ungrouped (lowered onto the GEMM on
    // software adapters with subgroups).
    for s in [shape(19, 6, 9, 7, 10, 3, 2, 1, 2), shape(5, 7, 9, 7, 10, 3, 1, 1, 1)] {
        let (x, w, dy) = inputs(&s, 9);
        for dev in common::devices() {
            let first = run_all(&dev, &s, &x, &w, &dy);
            for _ in 0..2 {
                let again = run_all(&dev, &s, &x, &w, &dy);
                assert!(first.0 == again.0 && first.1 == again.1 && first.2 == again.2, "{}: repeat differs for {s:?}", dev.name());
            }
        }
    }
}

/// The six 3x3 conv shapes of ResNet-32 on CIFAR at batch 128 (the stem first).
fn resnet32_layers() -> Vec<(&'static str, Conv2dShape)> {
    vec![
        ("conv1 3->16", shape(128, 3, 32, 32, 16, 3, 1, 1, 1)),
        ("32x32 16->16", shape(128, 16, 32, 32, 16, 3, 1, 1, 1)),
        ("32->16px 16->32 s2", shape(128, 16, 32, 32, 32, 3, 2, 1, 1)),
        ("16x16 32->32", shape(128, 32, 16, 16, 32, 3, 1, 1, 1)),
        ("16->8px 32->64 s2", shape(128, 32, 16, 16, 64, 3, 2, 1, 1)),
        ("8x8 64->64", shape(128, 64, 8, 8, 64, 3, 1, 1, 1)),
    ]
}

/// User + system CPU seconds of this process (Linux /proc; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// GFLOP/s of forward, backward-data and backward-weight per ResNet-32 layer (best of a few
/// runs). `CONV_BENCH=cpu` or `gpu` picks one device (both by default).
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn resnet32_layer_throughput() {
    let which = std::env::var("CONV_BENCH").unwrap_or_default();
    let mut devices = Vec::new();
    if which != "gpu" {
        devices.push(common::cpu());
    }
    if which != "cpu" {
        devices.push(common::gpu());
    }
    for dev in devices {
        let reps = if dev.is_cpu() { 40 } else { 3 };
        // CONV_KERNEL=implicit or lowered forces the WGSL kernel (the plan's by default).
        let kernel = match std::env::var("CONV_KERNEL").as_deref() {
            Ok("implicit") => ConvKernel::Implicit,
            Ok("lowered") => ConvKernel::Lowered,
            Ok("textures") => ConvKernel::Textures,
            _ => ConvKernel::Auto,
        };
        let batch: usize = std::env::var("CONV_BENCH_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(128);
        for (name, s) in resnet32_layers() {
            let s = Conv2dShape { n: batch, ..s };
            let (x, w, dy) = inputs(&s, 1);
            let xt = dev.from_f32(&x_shape(&s), &x);
            let wt = dev.from_f32(&w_shape(&s), &w);
            let dyt = dev.from_f32(&y_shape(&s), &dy);
            let (y, dx, dw) = (dev.zeros(&y_shape(&s)), dev.zeros(&x_shape(&s)), dev.zeros(&w_shape(&s)));
            // Wall-clock GFLOP/s (best run) and, as the machine is shared, GFLOP/s per second of
            // this process's CPU time (on the cpu device: the speed of one core).
            let time = |f: &dyn Fn()| {
                f();
                dev.wait();
                let mut best = f64::MAX;
                let cpu0 = process_cpu_seconds();
                for _ in 0..reps {
                    let t = std::time::Instant::now();
                    f();
                    dev.wait();
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let cpu = process_cpu_seconds() - cpu0;
                format!("{:6.1} ({:5.1}/core)", s.flops() / best / 1e9, s.flops() * reps as f64 / cpu / 1e9)
            };
            let f = time(&|| conv2d_forward_with(&dev, kernel, &s, &xt, &wt, &y));
            let bd = time(&|| conv2d_backward_data_with(&dev, kernel, &s, &dyt, &wt, &dx));
            let bw = time(&|| conv2d_backward_weight_with(&dev, kernel, &s, &xt, &dyt, &dw));
            eprintln!("{:<20} {:<20} fwd {f}  bwd-data {bd}  bwd-weight {bw} GFLOP/s", dev.name(), name);
        }
    }
}
