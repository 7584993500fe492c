//! The `ssdlt` command: parse arguments, run, map the outcome to an exit code
//! (0 ok, 1 the run failed, 2 bad input or usage).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Mesa's Vulkan loader warns twice per instance when this is unset; the warning is harmless
    // and confuses users. Set before any thread starts.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let cli = ssdlt::cli::Cli::parse();
    match ssdlt::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.downcast_ref::<ssdlt::Error>().is_some_and(ssdlt::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
