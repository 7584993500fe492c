//! `ssdlt bench`: GFLOP/s of the GEMM and of every ResNet-32 convolution (forward and both
//! backwards), and ResNet-32 training and inference images/s, per device. With `--pytorch` the
//! PyTorch CPU reference (tests/bench_pytorch.py) is measured in the same run and ratios printed.
//! Each figure is the median of calls timed one by one after a warm-up (`CALLS` per device).

use anyhow::Context;
use serde::Serialize;

use crate::kernels::conv2d::{conv2d_backward_data, conv2d_backward_weight, conv2d_forward, Conv2dShape};
use crate::kernels::gemm::{matmul, GemmShape};
use crate::kernels::{Device, DeviceChoice};
use crate::nn::bench::{self as model_bench, median_seconds_per_call};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Fewer repetitions (a rough figure in seconds, for smoke tests).
    #[arg(long)]
    pub quick: bool,
    /// Also run this PyTorch reference script in the same run (e.g. tests/bench_pytorch.py).
    #[arg(long, value_name = "SCRIPT")]
    pub pytorch: Option<std::path::PathBuf>,
    /// Measure the data path instead: augmentation + batching images/s at 32x32 and 224x224
    /// beside ResNet-32 / ResNet-50 training images/s on the cpu device, in the same run.
    #[arg(long)]
    pub data: bool,
    /// Measure the student stage instead: its step with soft labels read from the Arrow cache
    /// against the same step with the teacher run on every batch, images/s in the same run, and
    /// the cache's bytes per sample for top-10 against dense (`--device` picks the device).
    #[arg(long, conflicts_with = "data")]
    pub distill: bool,
}

#[derive(Serialize)]
struct ConvFigures {
    layer: &'static str,
    shape: String,
    forward_gflops: f64,
    backward_data_gflops: f64,
    backward_weight_gflops: f64,
}

#[derive(Serialize)]
struct DeviceFigures {
    device: String,
    /// The cpu device's SIMD level (`avx512`, `avx2`, `portable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    simd: Option<&'static str>,
    gemm_1024_gflops: f64,
    conv: Vec<ConvFigures>,
    resnet32_train_images_per_s: f64,
    resnet32_infer_images_per_s: f64,
}

impl DeviceFigures {
    /// The device, with the cpu's SIMD level: `cpu (avx512)`.
    fn label(&self) -> String {
        match self.simd {
            Some(simd) => format!("{} ({simd})", self.device),
            None => self.device.clone(),
        }
    }
}

/// The distinct convolutions of a CIFAR ResNet-32 at batch 128, named by where they occur.
pub fn resnet32_conv_layers(batch: usize) -> Vec<(&'static str, Conv2dShape)> {
    let conv = |c_in, hw, c_out, stride| Conv2dShape { n: batch, c_in, h: hw, w: hw, c_out, kh: 3, kw: 3, stride, pad: 1, groups: 1 };
    vec![
        ("conv1 3->16 @32", conv(3, 32, 16, 1)),
        ("layer1 16->16 @32", conv(16, 32, 16, 1)),
        ("layer2.0 16->32 /2", conv(16, 32, 32, 2)),
        ("layer2 32->32 @16", conv(32, 16, 32, 1)),
        ("layer3.0 32->64 /2", conv(32, 16, 64, 2)),
        ("layer3 64->64 @8", conv(64, 8, 64, 1)),
    ]
}

fn seeded_tensor(dev: &Device, shape: &[usize], seed: u32) -> crate::kernels::Tensor {
    let len: usize = shape.iter().product();
    let data: Vec<f32> = (0..len).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2000) as f32 / 1000.0 - 1.0).collect();
    dev.from_f32(shape, &data)
}

/// Timed calls per figure (odd, so the median is one of them): software adapters run ~10x slower
/// than the cpu path, and fewer calls keep the run short.
fn calls(cpu: bool, quick: bool) -> usize {
    if quick {
        1
    } else if cpu {
        11
    } else {
        5
    }
}

fn bench_device(dev: &Device, quick: bool, quiet: bool) -> DeviceFigures {
    let reps = calls(dev.is_cpu(), quick);
    let say = |msg: String| {
        if !quiet {
            eprintln!("  {msg}");
        }
    };
    let name = dev.name();
    if !quiet {
        eprintln!("benchmarking {name}{}", dev.simd_level().map(|l| format!(" ({})", l.name())).unwrap_or_default());
    }
    let gemm_size = if quick { 256 } else { 1024 };
    let s = GemmShape { m: gemm_size, n: gemm_size, k: gemm_size, trans_a: false, trans_b: false, accumulate: false };
    let (a, b, c) = (seeded_tensor(dev, &[s.m, s.k], 1), seeded_tensor(dev, &[s.k, s.n], 2), dev.zeros(&[s.m, s.n]));
    let gemm_1024_gflops = s.flops() / median_seconds_per_call(dev, reps, || matmul(dev, &s, &a, &b, &c)) / 1e9;
    say(format!("gemm {gemm_size}^3: {gemm_1024_gflops:.1} GFLOP/s"));

    let batch = if quick { 8 } else { 128 };
    let mut conv = Vec::new();
    for (layer, s) in resnet32_conv_layers(batch) {
        let x = seeded_tensor(dev, &[s.n, s.c_in, s.h, s.w], 3);
        let w = seeded_tensor(dev, &[s.c_out, s.c_in, s.kh, s.kw], 4);
        let y = dev.zeros(&[s.n, s.c_out, s.out_h(), s.out_w()]);
        let dx = dev.zeros(&[s.n, s.c_in, s.h, s.w]);
        let dw = dev.zeros(&[s.c_out, s.c_in, s.kh, s.kw]);
        let gflops = |secs: f64| s.flops() / secs / 1e9;
        let figures = ConvFigures {
            layer,
            shape: format!("{}x{}x{}x{} -> {} k3 s{}", s.n, s.c_in, s.h, s.w, s.c_out, s.stride),
            forward_gflops: gflops(median_seconds_per_call(dev, reps, || conv2d_forward(dev, &s, &x, &w, &y))),
            backward_data_gflops: gflops(median_seconds_per_call(dev, reps, || conv2d_backward_data(dev, &s, &y, &w, &dx))),
            backward_weight_gflops: gflops(median_seconds_per_call(dev, reps, || conv2d_backward_weight(dev, &s, &x, &y, &dw))),
        };
        say(format!(
            "conv {:<20} forward {:6.1}  backward-data {:6.1}  backward-weight {:6.1} GFLOP/s",
            layer, figures.forward_gflops, figures.backward_data_gflops, figures.backward_weight_gflops
        ));
        conv.push(figures);
    }

    let steps = if dev.is_cpu() && !quick { 21 } else { reps };
    let resnet32_train_images_per_s = model_bench::resnet32_train_images_per_s(dev, batch, steps);
    say(format!("resnet32 training (batch {batch}): {resnet32_train_images_per_s:.0} images/s"));
    let infer_batch = if quick { 8 } else { 256 };
    let resnet32_infer_images_per_s = model_bench::resnet32_infer_images_per_s(dev, infer_batch, steps);
    say(format!("resnet32 inference (batch {infer_batch}): {resnet32_infer_images_per_s:.0} images/s"));
    let simd = dev.simd_level().map(|level| level.name());
    DeviceFigures { device: name, simd, gemm_1024_gflops, conv, resnet32_train_images_per_s, resnet32_infer_images_per_s }
}

fn devices_for(choice: DeviceChoice) -> anyhow::Result<Vec<Device>> {
    Ok(match choice {
        DeviceChoice::Cpu => vec![Device::cpu()],
        DeviceChoice::Wgpu => vec![Device::wgpu(false)?.0],
        // Both paths, so their figures sit side by side; wgpu only if some adapter exists.
        DeviceChoice::Auto => {
            let mut devs = vec![Device::cpu()];
            if let Ok((gpu, _)) = Device::wgpu(false) {
                devs.push(gpu);
            }
            devs
        }
    })
}

fn run_pytorch(script: &std::path::Path, quick: bool) -> anyhow::Result<serde_json::Value> {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).arg("--json");
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().with_context(|| format!("running python3 {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed (is PyTorch installed? `pip install torch`):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).with_context(|| format!("{} printed no JSON", script.display()))
}

pub fn run(args: &BenchArgs, choice: DeviceChoice, quiet: bool) -> anyhow::Result<()> {
    if args.data {
        return super::bench_data::run(args.quick, args.json, quiet);
    }
    if args.distill {
        let dev = devices_for(choice)?.into_iter().next().expect("devices_for always gives the cpu or a chosen device");
        return super::bench_distill::run(&dev, args.quick, args.json, quiet);
    }
    let devices = devices_for(choice)?;
    let figures: Vec<DeviceFigures> = devices.iter().map(|d| bench_device(d, args.quick, quiet || args.json)).collect();
    let pytorch = args.pytorch.as_deref().map(|p| run_pytorch(p, args.quick)).transpose()?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if args.json {
        let doc = serde_json::json!({
            "cpu_threads": rayon::current_num_threads(),
            "cores": cores,
            "timing": "median of calls timed one by one after a warm-up call",
            "devices": figures,
            "pytorch_cpu": pytorch
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("(every figure: the median of calls timed one by one after a warm-up call)\n");
    println!("{:<28} {:>10} {:>16} {:>16}", "device", "GEMM GF/s", "train images/s", "infer images/s");
    for f in &figures {
        println!("{:<28} {:>10.1} {:>16.0} {:>16.0}", f.label(), f.gemm_1024_gflops, f.resnet32_train_images_per_s, f.resnet32_infer_images_per_s);
    }
    for f in &figures {
        println!("\n{} convolutions (GFLOP/s):", f.label());
        println!("  {:<20} {:>9} {:>14} {:>16}", "layer", "forward", "backward-data", "backward-weight");
        for c in &f.conv {
            println!("  {:<20} {:>9.1} {:>14.1} {:>16.1}", c.layer, c.forward_gflops, c.backward_data_gflops, c.backward_weight_gflops);
        }
    }
    if let Some(py) = &pytorch {
        let train = py["resnet32_train_images_per_s"].as_f64().unwrap_or(f64::NAN);
        let infer = py["resnet32_infer_images_per_s"].as_f64().unwrap_or(f64::NAN);
        let gemm = py["gemm_1024_gflops"].as_f64().unwrap_or(f64::NAN);
        println!(
            "\nPyTorch {} CPU ({} threads): GEMM {gemm:.1} GFLOP/s, training {train:.0} images/s, inference {infer:.0} images/s",
            py["torch"], py["threads"]
        );
        for f in &figures {
            println!(
                "  {}: GEMM {:.2}x, training {:.2}x, inference {:.2}x PyTorch",
                f.label(),
                f.gemm_1024_gflops / gemm,
                f.resnet32_train_images_per_s / train,
                f.resnet32_infer_images_per_s / infer
            );
        }
    }
    Ok(())
}
