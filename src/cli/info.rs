//! `ssdlt info`: the adapters wgpu sees and what `--device auto` would choose.

use crate::gpu::{describe_adapters, pick_adapter};
use crate::kernels::cpu_simd::SimdLevel;

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let adapters = describe_adapters();
    let auto = match pick_adapter(true) {
        Ok(choice) => format!("wgpu: {}", choice.reason),
        Err(crate::Error::NoAdapter { detail }) => {
            format!("{}, because {detail}", crate::kernels::Device::cpu_summary())
        }
        Err(other) => return Err(other.into()),
    };
    if args.json {
        let value = serde_json::json!({
            "adapters": adapters,
            "auto": auto,
            "cpu_threads": rayon::current_num_threads(),
            "cpu_simd": SimdLevel::chosen().name()
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if adapters.is_empty() {
        println!("wgpu adapters: none with compute shaders");
        println!("  (for a software Vulkan adapter: `apt-get install mesa-vulkan-drivers` on Debian/Ubuntu)");
    } else {
        println!("wgpu adapters (best first):");
        for (i, a) in adapters.iter().enumerate() {
            println!("  [{i}] {}", a.name);
            println!("      backend {}, type {}, driver {} {}", a.backend, a.device_type, a.driver, a.driver_info);
            println!(
                "      max storage binding {} MiB, max buffer {} MiB, workgroup <= {} invocations (x <= {}), {} KiB workgroup memory",
                a.max_storage_buffer_binding_size >> 20,
                a.max_buffer_size >> 20,
                a.max_compute_invocations_per_workgroup,
                a.max_compute_workgroup_size_x,
                a.max_compute_workgroup_storage_size >> 10
            );
        }
    }
    let levels: Vec<&str> = SimdLevel::available().iter().map(|l| l.name()).collect();
    println!("cpu: {} threads, {} kernels (this processor runs: {})", rayon::current_num_threads(), SimdLevel::chosen().name(), levels.join(", "));
    println!("--device auto picks {auto}");
    Ok(())
}
