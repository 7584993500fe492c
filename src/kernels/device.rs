//! The compute device (`cpu` or `wgpu`) and the tensors that live on it.
//!
//! Every op in `crate::kernels` takes a `&Device` and tensors made by it, and has two
//! implementations: a native Rust one (the reference, multi-threaded, GEMM-backed) and a WGSL one
//! dispatched through `crate::gpu`. A `Tensor` is a cheap handle (clone shares storage, as in
//! PyTorch); ops write into output tensors the caller allocated once and reuses every step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::cpu_simd::SimdLevel;
use crate::error::Result;
use crate::gpu::{Binding, GpuBuffer, GpuContext, GpuTexture, TexelFormat};

/// Which device the user asked for (`--device` and the pipeline `device:` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when one exists, else the native CPU path.
    #[default]
    Auto,
    /// wgpu on any adapter, software adapters (lavapipe, llvmpipe) included.
    Wgpu,
    /// Native Rust on all cores.
    Cpu,
}

/// Element type of a tensor. `U32` holds class ids, labels and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
}

/// Scratch tensors by (thread, slot): ops running on different threads never share one.
type ScratchCache = Arc<Mutex<HashMap<(std::thread::ThreadId, &'static str), Tensor>>>;
/// Scratch textures by (thread, slot), as `ScratchCache`.
type ScratchTextures = Arc<Mutex<HashMap<(std::thread::ThreadId, &'static str), GpuTexture>>>;

#[derive(Clone)]
pub struct CpuDevice {
    scratch: ScratchCache,
    /// The instruction set the SIMD kernels run (the widest the processor has, by default).
    simd: SimdLevel,
}

/// wgpu device: derefs to the `GpuContext` that kernels dispatch on.
#[derive(Clone)]
pub struct WgpuDevice {
    ctx: Arc<GpuContext>,
    scratch: ScratchCache,
    scratch_textures: ScratchTextures,
}

impl std::ops::Deref for WgpuDevice {
    type Target = GpuContext;
    fn deref(&self) -> &GpuContext {
        &self.ctx
    }
}

#[derive(Clone)]
pub enum Device {
    Cpu(CpuDevice),
    Wgpu(WgpuDevice),
}

static NEXT_TENSOR_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Clone)]
enum Storage {
    Cpu(Arc<RwLock<Vec<f32>>>),
    Gpu(GpuBuffer, Arc<GpuContext>),
}

/// A dense, row-major tensor on a device. Shapes follow PyTorch: activations `[N, C, H, W]`,
/// conv weights `[C_out, C_in / groups, KH, KW]`, linear weights `[out, in]`.
#[derive(Clone)]
pub struct Tensor {
    id: u64,
    shape: Vec<usize>,
    dtype: DType,
    storage: Storage,
}

impl Device {
    /// The native CPU device (rayon's pool: `RAYON_NUM_THREADS` or all cores), its SIMD kernels on
    /// `SimdLevel::chosen` (the widest instruction set the processor has, or `SSDLT_CPU_SIMD`).
    pub fn cpu() -> Device {
        Device::cpu_with_simd(SimdLevel::chosen())
    }

    /// The native CPU device with its SIMD kernels on `level` (tests run every level the
    /// processor has; `SimdLevel::available` lists them).
    ///
    /// Panics if the processor lacks `level`.
    pub fn cpu_with_simd(level: SimdLevel) -> Device {
        assert!(SimdLevel::available().contains(&level), "this processor has no {} instructions", level.name());
        Device::Cpu(CpuDevice { scratch: Arc::default(), simd: level })
    }

    /// The SIMD level of the cpu device; None on wgpu.
    pub fn simd_level(&self) -> Option<SimdLevel> {
        match self {
            Device::Cpu(cpu) => Some(cpu.simd),
            Device::Wgpu(_) => None,
        }
    }

    /// A wgpu device on the best adapter (hardware first; software adapters unless `hardware_only`).
    /// Returns the device and a sentence saying which adapter was chosen and why.
    pub fn wgpu(hardware_only: bool) -> Result<(Device, String)> {
        Device::wgpu_on(None, hardware_only)
    }

    /// As `wgpu`, searching only `backends` when given (a `WGPU_BACKEND`-style list: "vulkan", "gl").
    pub fn wgpu_on(backends: Option<&str>, hardware_only: bool) -> Result<(Device, String)> {
        let (ctx, reason) = GpuContext::new(backends, hardware_only)?;
        Ok((Device::Wgpu(WgpuDevice { ctx: Arc::new(ctx), scratch: Arc::default(), scratch_textures: Arc::default() }), reason))
    }

    /// Resolves a `--device` choice. `auto` takes a hardware GPU when one exists, else `cpu`.
    pub fn select(choice: DeviceChoice) -> Result<(Device, String)> {
        match choice {
            DeviceChoice::Cpu => Ok((Device::cpu(), format!("{} (asked for)", Device::cpu_summary()))),
            DeviceChoice::Wgpu => {
                let (dev, reason) = Device::wgpu(false)?;
                Ok((dev, format!("wgpu: {reason} (asked for)")))
            }
            DeviceChoice::Auto => match Device::wgpu(true) {
                Ok((dev, reason)) => Ok((dev, format!("wgpu: {reason}"))),
                Err(crate::error::Error::NoAdapter { detail }) => Ok((Device::cpu(), format!("{}, because {detail}", Device::cpu_summary()))),
                Err(other) => Ok((Device::cpu(), format!("{}, because {other}", Device::cpu_summary()))),
            },
        }
    }

    /// What `Device::cpu` runs: `cpu: native path on 2 threads, avx512 kernels`.
    pub fn cpu_summary() -> String {
        format!("cpu: native path on {} threads, {} kernels", rayon::current_num_threads(), SimdLevel::chosen().name())
    }

    /// `cpu` or `wgpu (<adapter name>)`.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu(_) => "cpu".into(),
            Device::Wgpu(ctx) => format!("wgpu ({}, {})", ctx.report().name, ctx.report().backend),
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu(_))
    }

    pub fn gpu(&self) -> Option<&GpuContext> {
        match self {
            Device::Wgpu(gpu) => Some(&gpu.ctx),
            Device::Cpu(_) => None,
        }
    }

    fn alloc(&self, shape: &[usize], dtype: DType) -> Tensor {
        let len: usize = shape.iter().product();
        let storage = match self {
            Device::Cpu(_) => Storage::Cpu(Arc::new(RwLock::new(vec![0.0; len]))),
            Device::Wgpu(gpu) => Storage::Gpu(gpu.create_buffer(len as u64 * 4), gpu.ctx.clone()),
        };
        Tensor { id: NEXT_TENSOR_ID.fetch_add(1, Ordering::Relaxed), shape: shape.to_vec(), dtype, storage }
    }

    /// A zero-filled f32 tensor.
    pub fn zeros(&self, shape: &[usize]) -> Tensor {
        self.alloc(shape, DType::F32)
    }

    /// A zero-filled u32 tensor.
    pub fn zeros_u32(&self, shape: &[usize]) -> Tensor {
        self.alloc(shape, DType::U32)
    }

    pub fn from_f32(&self, shape: &[usize], data: &[f32]) -> Tensor {
        let t = self.zeros(shape);
        t.write(data);
        t
    }

    pub fn from_u32(&self, shape: &[usize], data: &[u32]) -> Tensor {
        let t = self.zeros_u32(shape);
        t.write_u32(data);
        t
    }

    /// A scratch tensor for temporary use inside one op (e.g. im2col columns), cached per `slot`
    /// and grown when a larger one is asked for, so steady-state steps allocate nothing. Ops run
    /// in order on both devices, so two ops may share a slot; one op must not use a slot twice.
    /// Slots are per calling thread, so threads sharing a device never share scratch.
    pub fn scratch(&self, slot: &'static str, len: usize) -> Tensor {
        let key = (std::thread::current().id(), slot);
        let mut cache = match self {
            Device::Cpu(cpu) => cpu.scratch.lock().unwrap(),
            Device::Wgpu(gpu) => gpu.scratch.lock().unwrap(),
        };
        if let Some(t) = cache.get(&key) {
            if t.len() >= len {
                return t.reshape(&[len]);
            }
        }
        let t = self.zeros(&[len.max(1)]);
        cache.insert(key, t.clone());
        t.reshape(&[len])
    }

    /// A texture of `format`, `width` texels wide and at least `height` tall, kept per (thread,
    /// slot) like `scratch` and replaced only when a taller one is asked for. wgpu devices only
    /// (there are no textures on `cpu`).
    pub fn scratch_texture(&self, slot: &'static str, width: u32, height: u32, format: TexelFormat) -> GpuTexture {
        let Device::Wgpu(gpu) = self else {
            panic!("scratch_texture: the cpu device has no textures (slot {slot})");
        };
        let key = (std::thread::current().id(), slot);
        let mut cache = gpu.scratch_textures.lock().unwrap();
        if let Some(t) = cache.get(&key) {
            let (w, h) = t.size();
            if w == width && h >= height && t.format() == format {
                return t.clone();
            }
        }
        let t = gpu.create_texture(width, height, format);
        cache.insert(key, t.clone());
        t
    }

    /// Submits recorded GPU work (one command buffer for everything since the last flush).
    /// A no-op on `cpu`, where ops run as they are called.
    pub fn flush(&self) {
        if let Device::Wgpu(ctx) = self {
            ctx.flush();
        }
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) {
        if let Device::Wgpu(ctx) = self {
            ctx.wait();
        }
    }
}

/// Read access to a CPU tensor's elements (exactly `len()` of them, also for a view whose
/// storage is larger).
pub struct CpuRead<'a>(RwLockReadGuard<'a, Vec<f32>>, usize);
/// Write access to a CPU tensor's elements (exactly `len()` of them).
pub struct CpuWrite<'a>(RwLockWriteGuard<'a, Vec<f32>>, usize);

impl CpuRead<'_> {
    pub fn f32(&self) -> &[f32] {
        &self.0[..self.1]
    }
    pub fn u32(&self) -> &[u32] {
        bytemuck::cast_slice(self.f32())
    }
}

impl CpuWrite<'_> {
    pub fn f32(&mut self) -> &mut [f32] {
        let len = self.1;
        &mut self.0[..len]
    }
    pub fn u32(&mut self) -> &mut [u32] {
        bytemuck::cast_slice_mut(self.f32())
    }
}

impl Tensor {
    /// Unique id of this tensor's storage (reshaped views share it).
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A view with another shape over the same storage (the element count may shrink, never grow).
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let len: usize = shape.iter().product();
        let capacity = match &self.storage {
            Storage::Cpu(v) => v.read().unwrap().len(),
            Storage::Gpu(b, _) => (b.bytes() / 4) as usize,
        };
        assert!(len <= capacity, "reshape to {shape:?} needs {len} elements, storage holds {capacity}");
        Tensor { id: self.id, shape: shape.to_vec(), dtype: self.dtype, storage: self.storage.clone() }
    }

    /// The same storage viewed as u32 (labels, class ids).
    pub fn as_u32(&self) -> Tensor {
        Tensor { dtype: DType::U32, ..self.clone() }
    }

    /// Locks a CPU tensor for reading. Panics on a GPU tensor or if the tensor is being written
    /// (an op was handed the same tensor as input and output: a bug in the caller).
    pub fn cpu(&self) -> CpuRead<'_> {
        match &self.storage {
            Storage::Cpu(v) => CpuRead(v.try_read().expect("tensor is being written by another op argument (aliased input/output)"), self.len()),
            Storage::Gpu(..) => panic!("cpu() on a wgpu tensor"),
        }
    }

    /// Locks a CPU tensor for writing. Panics on a GPU tensor or when aliased.
    pub fn cpu_mut(&self) -> CpuWrite<'_> {
        match &self.storage {
            Storage::Cpu(v) => CpuWrite(v.try_write().expect("tensor is locked by another op argument (aliased input/output)"), self.len()),
            Storage::Gpu(..) => panic!("cpu_mut() on a wgpu tensor"),
        }
    }

    /// The wgpu buffer behind a GPU tensor. Panics on a CPU tensor.
    pub fn gpu(&self) -> &GpuBuffer {
        match &self.storage {
            Storage::Gpu(b, _) => b,
            Storage::Cpu(_) => panic!("gpu() on a cpu tensor"),
        }
    }

    /// Binds this tensor at `index` for a dispatch.
    pub fn bind(&self, index: u32) -> Binding<'_> {
        Binding { index, buffer: self.gpu() }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        assert!(bytes.len() <= self.len() * 4, "writing {} values into a tensor of {}", bytes.len() / 4, self.len());
        match &self.storage {
            Storage::Cpu(v) => bytemuck::cast_slice_mut::<f32, u8>(&mut v.write().unwrap())[..bytes.len()].copy_from_slice(bytes),
            Storage::Gpu(b, ctx) => ctx.write(b, 0, bytes),
        }
    }

    /// Overwrites the first `data.len()` elements (an upload on wgpu).
    pub fn write(&self, data: &[f32]) {
        self.write_bytes(bytemuck::cast_slice(data));
    }

    /// Overwrites the first `data.len()` elements with u32 values.
    pub fn write_u32(&self, data: &[u32]) {
        self.write_bytes(bytemuck::cast_slice(data));
    }

    fn read_bytes(&self) -> Vec<u8> {
        let n = self.len() * 4;
        match &self.storage {
            Storage::Cpu(v) => bytemuck::cast_slice::<f32, u8>(&v.read().unwrap())[..n].to_vec(),
            Storage::Gpu(b, ctx) => {
                let mut bytes = ctx.read(b);
                bytes.truncate(n);
                bytes
            }
        }
    }

    /// Copies the elements to the host (a readback on wgpu: submits pending work and waits).
    pub fn to_vec(&self) -> Vec<f32> {
        bytemuck::pod_collect_to_vec(&self.read_bytes())
    }

    pub fn to_vec_u32(&self) -> Vec<u32> {
        bytemuck::pod_collect_to_vec(&self.read_bytes())
    }
}
