//! Tests: the `ssdlt` command line — exit codes and what users read.

use std::process::{Command, Output};

fn ssdlt(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssdlt"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running ssdlt")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn info_lists_the_adapters_and_what_auto_picks() {
    let out = ssdlt(&["info"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wgpu adapters"), "{stdout}");
    assert!(stdout.contains("--device auto picks"), "{stdout}");
}

#[test]
fn info_json_is_machine_readable() {
    let out = ssdlt(&["info", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json prints JSON");
    assert!(doc["adapters"].is_array());
    assert!(doc["auto"].as_str().is_some());
}

#[test]
fn info_without_any_adapter_says_what_to_install() {
    let out = ssdlt(&["info"], &[("WGPU_ADAPTER_NAME", "no-such-adapter")]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("mesa-vulkan-drivers"), "{all}");
    assert!(all.contains("picks cpu"), "{all}");
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_code_2() {
    let out = ssdlt(&["info", "--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn device_wgpu_without_an_adapter_exits_2_and_says_what_to_install() {
    let out = ssdlt(&["--device", "wgpu", "demo", "--steps", "1"], &[("WGPU_ADAPTER_NAME", "no-such-adapter")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("mesa-vulkan-drivers"), "{all}");
    assert!(all.contains("--device cpu"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn demo_says_which_device_it_chose_trains_and_writes_a_checkpoint() {
    let dir = std::env::temp_dir().join(format!("ssdlt-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = dir.join("resnet8.safetensors");
    let out = ssdlt(&["demo", "--steps", "30", "--batch", "32", "--checkpoint", checkpoint.to_str().unwrap()], &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("device: cpu"), "auto picks cpu without a hardware GPU: {all}");
    assert!(all.contains("held-out accuracy"), "{all}");
    let metadata = ssdlt::store::checkpoint::read_metadata(&checkpoint).expect("the checkpoint reads back");
    assert!(metadata.values().any(|v| v.contains("resnet8")), "{metadata:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_quick_json_reports_gflops_and_images_per_second() {
    let out = ssdlt(&["--device", "cpu", "bench", "--quick", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json prints JSON");
    let cpu = &doc["devices"][0];
    assert_eq!(cpu["device"], "cpu");
    assert!(["avx512", "avx2", "portable"].contains(&cpu["simd"].as_str().unwrap()), "{cpu}");
    assert!(cpu["gemm_1024_gflops"].as_f64().unwrap() > 0.0);
    assert_eq!(cpu["conv"].as_array().unwrap().len(), 6);
    assert!(cpu["resnet32_train_images_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn ssdlt_cpu_simd_pins_the_cpu_kernels_and_a_level_that_is_not_there_is_a_usage_error() {
    let out = ssdlt(&["--device", "cpu", "bench", "--quick", "--json"], &[("SSDLT_CPU_SIMD", "portable")]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json prints JSON");
    assert_eq!(doc["devices"][0]["simd"], "portable");
    let out = ssdlt(&["info"], &[("SSDLT_CPU_SIMD", "sse9")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SSDLT_CPU_SIMD") && err.contains("`sse9` is no SIMD level") && err.contains("portable"), "{err}");
}

#[test]
fn bench_distill_quick_json_times_both_students_and_sizes_the_cache() {
    let out = ssdlt(&["--device", "cpu", "bench", "--distill", "--quick", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --distill --json prints JSON");
    let student = &doc["student"];
    assert_eq!(student["device"], "cpu");
    assert!(student["cached_images_per_s"].as_f64().unwrap() > 0.0);
    assert!(student["online_images_per_s"].as_f64().unwrap() > 0.0);
    let sizes = doc["cache_size"].as_array().unwrap();
    let bytes = |classes: u64, k: u64| sizes.iter().find(|s| s["classes"] == classes && s["k"] == k).map(|s| s["bytes_per_row"].as_f64().unwrap()).unwrap();
    // k = 10 costs the same whatever the class count; dense grows by 8 bytes (id + probability) a class.
    assert_eq!(bytes(100, 10), bytes(1000, 10));
    assert!((bytes(100, 100) - bytes(100, 10) - 90.0 * 8.0).abs() < 1.0, "{sizes:?}");
    assert!((bytes(1000, 1000) - bytes(1000, 10) - 990.0 * 8.0).abs() < 1.0, "{sizes:?}");
}
