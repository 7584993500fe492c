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

use ssdlt::gpu::Binding;
use ssdlt::kernels::gemm::{sgemm_cpu, GemmShape};

use crate::common;

/// User + system CPU seconds of this process (Linux /proc; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

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
    eprintln!("max uniform binding {} KiB", gpu.max_uniform_binding_bytes() >> 10);
    let tensors = [
        ("A", dev.from_f32(&[m * k], &a)),
        ("AT", dev.from_f32(&[m * k], &at)),
        ("B", dev.from_f32(&[k * n], &b)),
        ("BT", dev.from_f32(&[k * n], &bt)),
        ("C", dev.zeros(&[m * n])),
    ];
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("GEMM_CANDIDATES folder").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "wgsl"));
    files.sort();
    for path in files {
        let code = std::fs::read_to_string(&path).expect("candidate");
        let header = code.lines().next().unwrap_or("");
        let field = |name: &str| header.split_whitespace().find_map(|f| f.strip_prefix(&format!("{name}="))).unwrap_or_else(|| panic!("{path:?}: header lacks {name}="));
        let entry: &'static str = Box::leak(field("entry").to_string().into_boxed_str());
        let (tm, tn) = field("tile").split_once('x').map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap())).unwrap();
        let binds: Vec<(u32, usize)> = field("bind")
            .split(',')
            .map(|b| {
                let (i, name) = b.split_once(':').unwrap();
                (i.parse().unwrap(), tensors.iter().position(|t| t.0 == name).unwrap_or_else(|| panic!("unknown operand {name}")))
            })
            .collect();
        let name: &'static str = Box::leak(path.file_name().unwrap().to_string_lossy().into_owned().into_boxed_str());
        let code: &'static str = Box::leak(code.into_boxed_str());
        let lane_blocks = n / tn;
        let blocks = lane_blocks * (m / tm);
        let params: [u32; 4] = [m as u32, n as u32, k as u32, lane_blocks as u32];
        let wg = ssdlt::kernels::grid(gpu, blocks, 1);
        let c = &tensors[4].1;
        c.write(&vec![0.0; m * n]);
        let mut run = || {
            let bindings: Vec<Binding<'_>> = binds.iter().map(|&(i, t)| tensors[t].1.bind(i)).collect();
            gpu.dispatch(name, code, entry, &[], bytemuck::bytes_of(&params), &bindings, wg);
            gpu.wait();
        };
        run();
        let err = common::max_relative_error(&c.to_vec(), &want);
        let (wall, per_s) = time(s.flops(), seconds, &mut run);
        eprintln!("{name:<40} {wall:7.2} GFLOP/s  {per_s:7.2} GFLOP/CPU-s  ({:.3} of cpu per CPU-s)  max rel err {err:.1e}", per_s / cpu_per_s);
    }
}
