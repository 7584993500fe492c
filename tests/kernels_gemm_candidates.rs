//! By-hand harness (ignored test, not shipped code): times candidate WGSL GEMM kernels through the
//! project's `GpuContext`, in GFLOP per CPU-second of this process (lavapipe's threads are ours,
//! so the figure is steady on a loaded machine), beside the native cpu GEMM in the same run.
//!
//! ```sh
//! SHAPE=1024,1024,1024 python3 tests/gemm_candidates.py /tmp/cand
//! XDG_RUNTIME_DIR=/tmp GEMM_CANDIDATES=/tmp/cand GEMM_CAND_SHAPE=1024,1024,1024 \
//!   cargo test --test integration -- --ignored --nocapture kernels_gemm_candidates
//! ```
//!
//! Every `*.wgsl` in `GEMM_CANDIDATES` computes C[m, n] = A[m, k] · B[k, n] (row-major) and starts
//! with one line `// candidate entry=NAME tile=TMxTN bind=1:A,2:B,3:C`: a workgroup covers TM rows
//! by TN columns of C, workgroups are numbered `wid.x + wid.y * nwg.x` row block by row block;
//! binding 0 is the uniform `{ m, n, k, lane_blocks }` (lane_blocks = n / TN); the operands are
//! A, AT (A transposed, [k, m]), B, BT ([n, k]) and C, bound at the given indices (as storage or
//! uniform buffers, as the shader declares them). Shapes must be multiples of the tiles.
//!
//! An optional header field `tex=1:B:rgba,2:A:r` binds operands as `texture_2d<f32>` instead:
//! `rgba` is an rgba32float texture of width cols / 4 (texel (x, y) holds row y, columns 4x..4x+4
//! of the row-major operand), `r` an r32float one of width cols (texel (x, y) = element (y, x)),
//! `lin` an rgba32float one 4096 texels wide holding the operand's vec4s row after row (vec4 t at
//! (t % 4096, t / 4096), the layout of shaders/gemm_texture.wgsl; any shape).
//! Each timed run of such a candidate first records the buffer-to-texture copies into the same
//! encoder (the copy is part of its cost); the copy alone and the kernel alone are timed too.
//! For `rgba` and `r` the operand's row must be a multiple of 256 bytes (64 floats): wgpu's copy
//! alignment.
//!
//! Two more operands are packed per candidate from its tile: `AP`, A in blocks of TM rows (texel
//! `blk * TM * k/4 + kk * TM + r` holds row `blk * TM + r`, columns 4kk..4kk+4), and `BP`, B in
//! panels of TN columns (texel `panel * k * TN/4 + row * TN/4 + t` holds row `row`, columns
//! `panel * TN + 4t..+4`): as `lin` textures each workgroup then reads one contiguous stream per
//! operand.

use ssdlt::gpu::{Binding, TexelFormat, TextureBinding};
use ssdlt::kernels::gemm::{sgemm_cpu, GemmShape};

use crate::common::{self, process_cpu_seconds};

/// Texels per row of a `lin` texture operand.
const LINEAR_ROW: usize = 4096;

/// Runs `f` until `seconds` of wall time pass (at least twice after a warm-up): (best wall
/// GFLOP/s, GFLOP per CPU-second).
fn time(flops: f64, seconds: f64, f: &mut dyn FnMut()) -> (f64, f64) {
    f();
    let (t0, c0) = (std::time::Instant::now(), process_cpu_seconds());
    let (mut reps, mut best) = (0, f64::MAX);
    while reps < 2 || t0.elapsed().as_secs_f64() < seconds {
        let t = std::time::Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    let cpu = (process_cpu_seconds() - c0).max(0.01);
    (flops / best / 1e9, flops * reps as f64 / cpu / 1e9)
}

#[test]
#[ignore = "by-hand harness: needs GEMM_CANDIDATES=<folder of candidate .wgsl>"]
fn gemm_candidates_are_timed_per_cpu_second() {
    let Ok(dir) = std::env::var("GEMM_CANDIDATES") else {
        eprintln!("GEMM_CANDIDATES is not set: nothing to time");
        return;
    };
    let dims: Vec<usize> = std::env::var("GEMM_CAND_SHAPE")
        .unwrap_or_else(|_| "1024,1024,1024".into())
        .split(',')
        .map(|v| v.trim().parse().expect("GEMM_CAND_SHAPE is m,n,k"))
        .collect();
    let (m, n, k) = (dims[0], dims[1], dims[2]);
    let seconds: f64 = std::env::var("GEMM_CAND_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4.0);
    let s = GemmShape { m, n, k, trans_a: false, trans_b: false, accumulate: false };
    let (a, b) = (common::seeded(m * k, 1, 1.0), common::seeded(k * n, 2, 1.0));
    let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
    let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
    let mut want = vec![0f32; m * n];
    sgemm_cpu(&s, &a, &b, &mut want, 2);
    let (cpu_wall, cpu_per_s) = time(s.flops(), seconds, &mut || {
        let mut c = vec![0f32; m * n];
        sgemm_cpu(&s, &a, &b, &mut c, 2);
    });
    eprintln!("{m}x{n}x{k} native cpu GEMM: {cpu_wall:7.2} GFLOP/s  {cpu_per_s:7.2} GFLOP/CPU-s");

    let dev = common::gpu();
    let gpu = dev.gpu().expect("a wgpu device");
    eprintln!("max uniform binding {} KiB, max texture side {}", gpu.max_uniform_binding_bytes() >> 10, gpu.max_texture_side());
    // (name, tensor, rows, columns) of each row-major operand.
    let tensors = [
        ("A", dev.from_f32(&[m * k], &a), m, k),
        ("AT", dev.from_f32(&[m * k], &at), k, m),
        ("B", dev.from_f32(&[k * n], &b), k, n),
        ("BT", dev.from_f32(&[k * n], &bt), n, k),
        ("C", dev.zeros(&[m * n]), m, n),
    ];
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("GEMM_CANDIDATES folder").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "wgsl"));
    files.sort();
    for path in files {
        let code = std::fs::read_to_string(&path).expect("candidate");
        let header = code.lines().next().unwrap_or("");
        let optional = |name: &str| header.split_whitespace().find_map(|f| f.strip_prefix(&format!("{name}=")));
        let field = |name: &str| optional(name).unwrap_or_else(|| panic!("{path:?}: header lacks {name}="));
        let entry: &'static str = Box::leak(field("entry").to_string().into_boxed_str());
        let (tm, tn) = field("tile").split_once('x').map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap())).unwrap();
        // This candidate's operands: the row-major ones, then A and B packed for its tile.
        let a_packed: Vec<f32> = (0..m * k)
            .map(|i| {
                let (blk, rest) = (i / (tm * k), i % (tm * k));
                let (kk, r, e) = (rest / (4 * tm), (rest / 4) % tm, rest % 4);
                a[(blk * tm + r) * k + 4 * kk + e]
            })
            .collect();
        let b_packed: Vec<f32> = (0..k * n)
            .map(|i| {
                let (panel, rest) = (i / (k * tn), i % (k * tn));
                b[(rest / tn) * n + panel * tn + rest % tn]
            })
            .collect();
        let packed = [("AP", dev.from_f32(&[m * k], &a_packed), m, k), ("BP", dev.from_f32(&[k * n], &b_packed), k, n)];
        let tensors: Vec<&(&str, ssdlt::kernels::Tensor, usize, usize)> = tensors.iter().chain(packed.iter()).collect();
        let binds: Vec<(u32, usize)> = field("bind")
            .split(',')
            .map(|b| {
                let (i, name) = b.split_once(':').unwrap();
                (i.parse().unwrap(), tensors.iter().position(|t| t.0 == name).unwrap_or_else(|| panic!("unknown operand {name}")))
            })
            .collect();
        // (binding, operand, texture, whether it is a `lin` texture) of each texture operand.
        let textures: Vec<(u32, usize, ssdlt::gpu::GpuTexture, bool)> = optional("tex")
            .map(|list| {
                list.split(',')
                    .map(|t| {
                        let mut parts = t.split(':');
                        let (i, op, fmt) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
                        let t = tensors.iter().position(|x| x.0 == op).unwrap_or_else(|| panic!("unknown operand {op}"));
                        let (rows, cols) = (tensors[t].2, tensors[t].3);
                        let (format, width, height) = match fmt {
                            "rgba" => (TexelFormat::Rgba32Float, cols / 4, rows),
                            "r" => (TexelFormat::R32Float, cols, rows),
                            "lin" => (TexelFormat::Rgba32Float, LINEAR_ROW, (rows * cols / 4).div_ceil(LINEAR_ROW)),
                            other => panic!("{path:?}: texture format {other} is not rgba, r or lin"),
                        };
                        assert!(fmt == "lin" || (cols * 4).is_multiple_of(256), "{op}: a row of {cols} floats is not a multiple of 256 bytes");
                        (i.parse().unwrap(), t, gpu.create_texture(width as u32, height as u32, format), fmt == "lin")
                    })
                    .collect()
            })
            .unwrap_or_default();
        let copy_all = || {
            for (_, t, tex, linear) in &textures {
                let (_, tensor, rows, cols) = &tensors[*t];
                if *linear {
                    gpu.copy_to_texture_linear(tensor.gpu(), (rows * cols / 4) as u64, tex);
                } else {
                    gpu.copy_to_texture(tensor.gpu(), 0, (cols * 4) as u32, tex);
                }
            }
        };
        let name: &'static str = Box::leak(path.file_name().unwrap().to_string_lossy().into_owned().into_boxed_str());
        let code: &'static str = Box::leak(code.into_boxed_str());
        let lane_blocks = n / tn;
        let blocks = lane_blocks * (m / tm);
        let params: [u32; 4] = [m as u32, n as u32, k as u32, lane_blocks as u32];
        let wg = ssdlt::kernels::grid(gpu, blocks, 1);
        let c = &tensors[4].1;
        c.write(&vec![0.0; m * n]);
        let kernel = || {
            let bindings: Vec<Binding<'_>> = binds.iter().map(|&(i, t)| tensors[t].1.bind(i)).collect();
            let texture_bindings: Vec<TextureBinding<'_>> = textures.iter().map(|(i, _, tex, _)| TextureBinding { index: *i, texture: tex }).collect();
            gpu.dispatch_with_textures(name, code, entry, &[], bytemuck::bytes_of(&params), &bindings, &texture_bindings, wg);
        };
        let mut run = || {
            copy_all();
            kernel();
            gpu.wait();
        };
        run();
        let err = common::max_relative_error(&c.to_vec(), &want);
        let (wall, per_s) = time(s.flops(), seconds, &mut run);
        eprintln!("{name:<40} {wall:7.2} GFLOP/s  {per_s:7.2} GFLOP/CPU-s  ({:.3} of cpu per CPU-s)  max rel err {err:.1e}", per_s / cpu_per_s);
        if !textures.is_empty() {
            // The same per-CPU-second figures split into the copies alone and the kernel alone.
            let (_, copy_per_s) = time(s.flops(), seconds / 2.0, &mut || {
                copy_all();
                gpu.wait();
            });
            let (_, kernel_per_s) = time(s.flops(), seconds / 2.0, &mut || {
                kernel();
                gpu.wait();
            });
            eprintln!(
                "{:<40} copies alone {:.2} CPU-ms per run; kernel alone {kernel_per_s:7.2} GFLOP/CPU-s",
                "",
                s.flops() / copy_per_s / 1e6
            );
        }
    }
}
