//! Every .wgsl file in shaders/ parses and validates with naga, with no adapter needed.

use ssdlt::kernels::Shader;

fn validate(name: &str, source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    // Only the files made for devices with subgroups may use them.
    let capabilities = if name.ends_with("gemm_subgroup.wgsl") || name.ends_with("gemm_texture.wgsl") || name.ends_with("conv2d_texture.wgsl") { naga::valid::Capabilities::SUBGROUP } else { naga::valid::Capabilities::empty() };
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .map_err(|e| format!("{name}: {}", e.emit_to_string(source)))?;
    Ok(())
}

#[test]
fn every_wgsl_file_in_shaders_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let source = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = validate(&path.display().to_string(), &source) {
                panic!("{}: {e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= Shader::ALL.len(), "found {checked} shaders");
}

#[test]
fn every_embedded_shader_is_the_file_in_shaders() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for shader in Shader::ALL {
        let on_disk = std::fs::read_to_string(dir.join(shader.file_name())).unwrap();
        assert_eq!(on_disk, shader.source(), "{} differs from the embedded source", shader.file_name());
    }
}

#[test]
fn a_dispatch_recorded_in_a_step_writes_what_a_readback_sees() {
    const DOUBLE: &str = "
        @group(0) @binding(0) var<uniform> params: vec4<u32>;
        @group(0) @binding(1) var<storage, read_write> data: array<f32>;
        @compute @workgroup_size(64)
        fn double(@builtin(global_invocation_id) gid: vec3<u32>) {
            if (gid.x < params.x) { data[gid.x] = data[gid.x] * 2.0 + 1.0; }
        }";
    let dev = crate::common::gpu();
    let gpu = dev.gpu().unwrap();
    let t = dev.from_f32(&[100], &(0..100).map(|i| i as f32).collect::<Vec<_>>());
    for _ in 0..2 {
        gpu.dispatch("test_double", DOUBLE, "double", &[], bytemuck::bytes_of(&[100u32, 0, 0, 0]), &[t.bind(1)], [2, 1, 1]);
    }
    let got = t.to_vec();
    assert_eq!(got[3], 3.0 * 4.0 + 3.0);
    assert_eq!(got[99], 99.0 * 4.0 + 3.0);
}

/// The GL path (llvmpipe, present on a fresh Linux machine with nothing installed) runs our
/// kernels and agrees with the CPU.
#[test]
fn the_gl_backend_runs_kernels_and_agrees_with_the_cpu() {
    use ssdlt::kernels::{elementwise, gemm, Device};
    let (gl, reason) = match Device::wgpu_on(Some("gl"), false) {
        Ok(found) => found,
        Err(e) => panic!("no GL adapter (llvmpipe comes with Mesa's libgl1-mesa-dri): {e}"),
    };
    assert!(reason.contains("Gl"), "{reason}");
    let cpu = Device::cpu();
    let s = gemm::GemmShape { m: 19, n: 33, k: 7, trans_a: false, trans_b: false, accumulate: false };
    let a = crate::common::seeded(s.m * s.k, 1, 1.0);
    let b = crate::common::seeded(s.k * s.n, 2, 1.0);
    let run = |dev: &Device| {
        let (ta, tb, tc, relu) = (dev.from_f32(&[s.m, s.k], &a), dev.from_f32(&[s.k, s.n], &b), dev.zeros(&[s.m, s.n]), dev.zeros(&[s.m, s.n]));
        gemm::matmul(dev, &s, &ta, &tb, &tc);
        elementwise::relu_forward(dev, &tc, &relu);
        relu.to_vec()
    };
    crate::common::assert_close("GL gemm + relu", &run(&gl), &run(&cpu), 1e-4);
}

/// The unrolled bodies of shaders/gemm.wgsl and shaders/conv2d.wgsl are generated: each file must
/// be exactly what its generator under tests/ writes, so edits go through the generator.
#[test]
fn the_unrolled_gemm_and_conv_kernels_are_what_their_generators_write() {
    for script in ["tests/gen_gemm_wgsl.py", "tests/gen_conv2d_wgsl.py", "tests/gen_conv2d_texture_wgsl.py"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let out = std::process::Command::new("python3").arg(&path).arg("--check").output().expect("python3 runs the generator");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
