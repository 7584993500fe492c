//! Finding adapters and choosing one. wgpu's own environment conventions are honoured:
//! `WGPU_BACKEND` (e.g. `vulkan`, `gl`) restricts the backends searched and `WGPU_ADAPTER_NAME`
//! picks an adapter by a substring of its name.

use crate::error::{Error, Result};

/// What `ssdlt info` prints for one adapter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub is_hardware: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_workgroups_per_dimension: u32,
}

/// An adapter chosen for compute, with the reason it was chosen.
pub struct AdapterChoice {
    pub adapter: wgpu::Adapter,
    pub report: AdapterReport,
    pub reason: String,
}

/// An instance over the backends named in `backends` (comma list as in `WGPU_BACKEND`, e.g.
/// "vulkan" or "gl"), or over what `WGPU_BACKEND` says (all backends when unset).
fn instance(backends: Option<&str>) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if let Some(list) = backends {
        desc.backends = wgpu::Backends::from_comma_list(list);
    }
    wgpu::Instance::new(desc)
}

fn is_hardware(kind: wgpu::DeviceType) -> bool {
    matches!(
        kind,
        wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::VirtualGpu
    )
}

fn report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let limits = adapter.limits();
    AdapterReport {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        is_hardware: is_hardware(info.device_type),
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroup_size_x: limits.max_compute_workgroup_size_x,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
    }
}

/// Every adapter wgpu can see with compute support, in preference order (hardware first,
/// then Vulkan software adapters, then the rest).
fn ranked_adapters(backends: Option<&str>) -> Vec<wgpu::Adapter> {
    let instance = instance(backends);
    let mut adapters: Vec<wgpu::Adapter> =
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
            .into_iter()
            .filter(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS))
            .collect();
    adapters.sort_by_key(|a| {
        let info = a.get_info();
        let hardware_rank = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            _ => 3,
        };
        // Vulkan (lavapipe) compiles shaders ~100x faster than GL (llvmpipe).
        let backend_rank = match info.backend {
            wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
            _ => 1,
        };
        (hardware_rank, backend_rank)
    });
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let wanted = wanted.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&wanted));
    }
    adapters
}

/// Reports for every adapter wgpu sees, best first.
pub fn describe_adapters() -> Vec<AdapterReport> {
    ranked_adapters(None).iter().map(report).collect()
}

/// Picks an adapter. With `hardware_only`, software adapters (llvmpipe, lavapipe) are refused.
pub fn pick_adapter(hardware_only: bool) -> Result<AdapterChoice> {
    pick_adapter_on(None, hardware_only)
}

/// As `pick_adapter`, searching only `backends` (a `WGPU_BACKEND`-style list) when given.
pub fn pick_adapter_on(backends: Option<&str>, hardware_only: bool) -> Result<AdapterChoice> {
    let adapters = ranked_adapters(backends);
    let filter_note = match std::env::var("WGPU_ADAPTER_NAME") {
        Ok(name) => format!(" matching WGPU_ADAPTER_NAME={name:?}"),
        Err(_) => String::new(),
    };
    let Some(adapter) = adapters.into_iter().next() else {
        return Err(Error::NoAdapter {
            detail: format!("wgpu found no adapter with compute shaders{filter_note}"),
        });
    };
    let report = report(&adapter);
    if hardware_only && !report.is_hardware {
        return Err(Error::NoAdapter {
            detail: format!(
                "wgpu sees only software adapters{filter_note} (best: `{}` on {}), which run ~10x slower than the native cpu path",
                report.name, report.backend
            ),
        });
    }
    let reason = if report.is_hardware {
        format!("hardware GPU `{}` through {}", report.name, report.backend)
    } else {
        format!("software adapter `{}` through {} (no hardware GPU found)", report.name, report.backend)
    };
    Ok(AdapterChoice { adapter, report, reason })
}
