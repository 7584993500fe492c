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
