//! The wgpu device context: one device and queue, caches of compiled pipelines, uniform buffers
//! and bind groups (so a training loop allocates nothing after its first step), and the step
//! recorder that puts every dispatch of a step into one command encoder.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::adapters::{pick_adapter_on, AdapterReport};
use crate::error::{Error, Result};

/// Which family of kernel variants suits the adapter. The choice is made here, once, from the
/// adapter type; kernels only read it.
///
/// Software adapters (llvmpipe, lavapipe) run each invocation as a CPU loop: shared-memory tiles
/// with barriers are slow there and large, fully unrolled register blocks are fast. Real GPUs want
/// shared-memory tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelVariant {
    Unrolled,
    Tiled,
}

static NEXT_BUFFER_ID: AtomicU64 = AtomicU64::new(1);

/// A storage buffer on the device, with an id that keys the bind-group cache.
#[derive(Clone, Debug)]
pub struct GpuBuffer {
    pub(crate) buffer: wgpu::Buffer,
    id: u64,
    bytes: u64,
}

impl GpuBuffer {
    pub fn id(&self) -> u64 {
        self.id
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// One storage buffer bound at `index` (binding 0 is reserved for the uniform parameters).
pub struct Binding<'a> {
    pub index: u32,
    pub buffer: &'a GpuBuffer,
}

/// How the texels of a `GpuTexture` hold floats: four per texel or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TexelFormat {
    Rgba32Float,
    R32Float,
}

impl TexelFormat {
    /// Bytes of one texel.
    pub fn texel_bytes(self) -> u32 {
        match self {
            TexelFormat::Rgba32Float => 16,
            TexelFormat::R32Float => 4,
        }
    }

    fn wgpu(self) -> wgpu::TextureFormat {
        match self {
            TexelFormat::Rgba32Float => wgpu::TextureFormat::Rgba32Float,
            TexelFormat::R32Float => wgpu::TextureFormat::R32Float,
        }
    }
}

/// A 2-D float texture that shaders read with `textureLoad`, never sampled: bound as a
/// `texture_2d<f32>` or, where `GpuContext::kernel_texture_side` is not 0, as a read-only
/// `texture_storage_2d` (the kernels' way). On llvmpipe a texel load is one vectorised fetch,
/// where a storage-buffer load at a lane-varying offset is a loop over the SIMD lanes.
#[derive(Clone, Debug)]
pub struct GpuTexture {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    id: u64,
    width: u32,
    height: u32,
    format: TexelFormat,
}

impl GpuTexture {
    pub fn id(&self) -> u64 {
        self.id
    }
    /// (width, height) in texels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
    pub fn format(&self) -> TexelFormat {
        self.format
    }
}

/// One texture bound at `index` (as the shader declares it: `texture_2d<f32>` or a read-only
/// `texture_storage_2d`).
pub struct TextureBinding<'a> {
    pub index: u32,
    pub texture: &'a GpuTexture,
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct PipelineKey {
    shader: &'static str,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
}

#[derive(Hash, PartialEq, Eq)]
struct BindGroupKey {
    pipeline: PipelineKey,
    uniform: Option<u64>,
    buffers: Vec<(u32, u64)>,
    textures: Vec<(u32, u64)>,
}

struct Recording {
    // Declared before `encoder` so that it is dropped first: the pass borrows the encoder.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: wgpu::CommandEncoder,
    dispatches: u64,
}

pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    report: AdapterReport,
    variant: KernelVariant,
    /// Subgroup size when the device has subgroups of one fixed size.
    subgroup_size: Option<u32>,
    /// Whether shaders can read rgba32float textures as `texture_storage_2d<rgba32float, read>`.
    storage_texture_reads: bool,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    uniforms: Mutex<HashMap<Vec<u8>, (u64, wgpu::Buffer)>>,
    bind_groups: Mutex<HashMap<BindGroupKey, wgpu::BindGroup>>,
    staging: Mutex<HashMap<u64, wgpu::Buffer>>,
    recording: Mutex<Option<Recording>>,
    dispatches: AtomicU64,
    submits: AtomicU64,
}

impl GpuContext {
    /// Opens the best adapter (see `pick_adapter`), on `backends` only when given (a
    /// `WGPU_BACKEND`-style list such as "gl"). `hardware_only` refuses software adapters.
    pub fn new(backends: Option<&str>, hardware_only: bool) -> Result<(Self, String)> {
        let choice = pick_adapter_on(backends, hardware_only)?;
        let adapter = choice.adapter;
        let mut limits = wgpu::Limits::downlevel_defaults();
        let supported = adapter.limits();
        limits.max_storage_buffer_binding_size = supported.max_storage_buffer_binding_size;
        limits.max_uniform_buffer_binding_size = supported.max_uniform_buffer_binding_size;
        limits.max_buffer_size = supported.max_buffer_size;
        limits.max_storage_buffers_per_shader_stage = supported.max_storage_buffers_per_shader_stage.min(10);
        limits.max_compute_invocations_per_workgroup = supported.max_compute_invocations_per_workgroup;
        limits.max_compute_workgroup_size_x = supported.max_compute_workgroup_size_x;
        limits.max_compute_workgroup_size_y = supported.max_compute_workgroup_size_y;
        limits.max_compute_workgroup_storage_size = supported.max_compute_workgroup_storage_size;
        limits.max_compute_workgroups_per_dimension = supported.max_compute_workgroups_per_dimension;
        limits.max_texture_dimension_2d = supported.max_texture_dimension_2d;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ssdlt"),
            // Subgroups let the software-adapter GEMM share loaded rows across SIMD lanes.
            required_features: adapter.features() & wgpu::Features::SUBGROUP,
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| Error::NoAdapter { detail: format!("opening `{}` failed: {e}", choice.report.name) })?;
        let variant = if choice.report.is_hardware { KernelVariant::Tiled } else { KernelVariant::Unrolled };
        let info = adapter.get_info();
        let subgroup_size = (device.features().contains(wgpu::Features::SUBGROUP) && info.subgroup_min_size == info.subgroup_max_size)
            .then_some(info.subgroup_min_size);
        let rgba = adapter.get_texture_format_features(wgpu::TextureFormat::Rgba32Float);
        let storage_texture_reads = rgba.allowed_usages.contains(wgpu::TextureUsages::STORAGE_BINDING)
            && rgba.flags.contains(wgpu::TextureFormatFeatureFlags::STORAGE_READ_ONLY);
        let ctx = GpuContext {
            device,
            queue,
            report: choice.report,
            variant,
            subgroup_size,
            storage_texture_reads,
            modules: Mutex::default(),
            pipelines: Mutex::default(),
            uniforms: Mutex::default(),
            bind_groups: Mutex::default(),
            staging: Mutex::default(),
            recording: Mutex::default(),
            dispatches: AtomicU64::new(0),
            submits: AtomicU64::new(0),
        };
        Ok((ctx, choice.reason))
    }

    pub fn report(&self) -> &AdapterReport {
        &self.report
    }

    pub fn variant(&self) -> KernelVariant {
        self.variant
    }

    /// Whether shaders may use subgroup operations on subgroups of exactly `size` invocations.
    pub fn has_subgroups_of(&self, size: u32) -> bool {
        self.subgroup_size == Some(size)
    }

    pub fn max_workgroups_per_dimension(&self) -> u32 {
        self.report.max_compute_workgroups_per_dimension
    }

    /// The largest buffer a shader may bind as `var<uniform>`, in bytes.
    pub fn max_uniform_binding_bytes(&self) -> u64 {
        self.device.limits().max_uniform_buffer_binding_size
    }

    /// Largest storage buffer that can be bound to one shader binding, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.report.max_storage_buffer_binding_size
    }

    /// Largest width or height of a `GpuTexture`, in texels.
    pub fn max_texture_side(&self) -> u32 {
        self.device.limits().max_texture_dimension_2d
    }

    /// Largest width or height of the textures the kernels read: they bind them as read-only
    /// storage textures (`texture_storage_2d<rgba32float, read>`), whose loads lavapipe compiles
    /// to less address arithmetic than `texture_2d` fetches (BENCHMARKS.md, session 7). 0 where
    /// the adapter cannot bind rgba32float that way, so no kernel plans on textures there.
    pub fn kernel_texture_side(&self) -> u32 {
        if self.storage_texture_reads {
            self.max_texture_side()
        } else {
            0
        }
    }

    /// Dispatches issued since the context was made (a counter for tests and benchmarks).
    pub fn dispatch_count(&self) -> u64 {
        self.dispatches.load(Ordering::Relaxed)
    }

    /// Queue submissions since the context was made.
    pub fn submit_count(&self) -> u64 {
        self.submits.load(Ordering::Relaxed)
    }

    /// A zero-filled storage buffer of `bytes` bytes (rounded up to 4).
    pub fn create_buffer(&self, bytes: u64) -> GpuBuffer {
        let size = bytes.max(4).div_ceil(4) * 4;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuBuffer { buffer, id: NEXT_BUFFER_ID.fetch_add(1, Ordering::Relaxed), bytes }
    }

    /// A `width` x `height` texture of `format` texels, zero-filled, that `copy_to_texture` fills
    /// and shaders read through `TextureBinding`s. Panics when a side exceeds `max_texture_side`.
    pub fn create_texture(&self, width: u32, height: u32, format: TexelFormat) -> GpuTexture {
        let max = self.max_texture_side();
        assert!(
            (1..=max).contains(&width) && (1..=max).contains(&height),
            "a {width} x {height} texture exceeds the adapter's 1..={max} texels per side"
        );
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: None,
            size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: format.wgpu(),
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | if self.storage_texture_reads { wgpu::TextureUsages::STORAGE_BINDING } else { wgpu::TextureUsages::empty() },
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        GpuTexture { texture, view, id: NEXT_BUFFER_ID.fetch_add(1, Ordering::Relaxed), width, height, format }
    }

    /// Records into the current step a copy of `src` into the whole of `dst`: texel row y is the
    /// `width * texel_bytes` bytes at `offset + y * bytes_per_row` (`bytes_per_row` a multiple of
    /// 256, wgpu's copy alignment; `offset` a multiple of the texel size).
    pub fn copy_to_texture(&self, src: &GpuBuffer, offset: u64, bytes_per_row: u32, dst: &GpuTexture) {
        let row = dst.width * dst.format.texel_bytes();
        assert!(bytes_per_row >= row, "copy_to_texture: {bytes_per_row} bytes per row are fewer than the texture's {row}");
        self.record_texture_copy(src, offset, bytes_per_row, dst, 0, (dst.width, dst.height));
    }

    /// Records into the current step a copy of `src` into texel rows `y0 .. y0 + rows` of `dst`
    /// (its whole width): texel row y0 + r is the `width * texel_bytes` bytes at
    /// `offset + r * bytes_per_row` (`bytes_per_row` a multiple of 256, wgpu's copy alignment;
    /// `offset` a multiple of the texel size).
    pub fn copy_to_texture_rows(&self, src: &GpuBuffer, offset: u64, bytes_per_row: u32, dst: &GpuTexture, y0: u32, rows: u32) {
        let row = dst.width * dst.format.texel_bytes();
        assert!(bytes_per_row >= row, "copy_to_texture_rows: {bytes_per_row} bytes per row are fewer than the texture's {row}");
        assert!(
            rows > 0 && y0 + rows <= dst.height,
            "copy_to_texture_rows: rows {y0}..{} are not within the texture's {}",
            y0 + rows,
            dst.height
        );
        self.record_texture_copy(src, offset, bytes_per_row, dst, y0, (dst.width, rows));
    }

    /// Records into the current step a copy of the first `texels` texels of `src` into `dst` row
    /// after row: texel t of the buffer lands at (t % width, t / width). The texture's rows must
    /// be a multiple of 256 bytes (wgpu's copy alignment); texels past `texels` keep their values.
    pub fn copy_to_texture_linear(&self, src: &GpuBuffer, texels: u64, dst: &GpuTexture) {
        let (width, texel_bytes) = (u64::from(dst.width), u64::from(dst.format.texel_bytes()));
        assert!(
            texels <= width * u64::from(dst.height),
            "copy_to_texture_linear: {texels} texels do not fit a {} x {} texture",
            dst.width,
            dst.height
        );
        let bytes_per_row = dst.width * dst.format.texel_bytes();
        let (full_rows, rest) = ((texels / width) as u32, (texels % width) as u32);
        if full_rows > 0 {
            self.record_texture_copy(src, 0, bytes_per_row, dst, 0, (dst.width, full_rows));
        }
        if rest > 0 {
            self.record_texture_copy(src, u64::from(full_rows) * width * texel_bytes, bytes_per_row, dst, full_rows, (rest, 1));
        }
    }

    /// Records a copy into texel rows `y0 .. y0 + extent.1`, columns `0 .. extent.0` of `dst`.
    fn record_texture_copy(&self, src: &GpuBuffer, offset: u64, bytes_per_row: u32, dst: &GpuTexture, y0: u32, extent: (u32, u32)) {
        assert!(
            bytes_per_row.is_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT),
            "copying to a texture: {bytes_per_row} bytes per row are not a multiple of {}",
            wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
        );
        let (width, height) = extent;
        let end = offset + u64::from(bytes_per_row) * u64::from(height - 1) + u64::from(width * dst.format.texel_bytes());
        assert!(end <= src.buffer.size(), "copying to a texture: the copy reads to byte {end} of a {}-byte buffer", src.buffer.size());
        self.with_encoder(|e| {
            e.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: &src.buffer,
                    layout: wgpu::TexelCopyBufferLayout { offset, bytes_per_row: Some(bytes_per_row), rows_per_image: Some(height) },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &dst.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y: y0, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            )
        });
    }

    /// Writes `data` at the start of `buffer`. Work already recorded is submitted first, so the
    /// write never overtakes a dispatch recorded before it.
    pub fn write(&self, buffer: &GpuBuffer, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.flush_if_recording();
        let padded;
        let bytes = if data.len().is_multiple_of(4) {
            data
        } else {
            padded = [data, &[0u8; 3][..4 - data.len() % 4]].concat();
            &padded
        };
        self.queue.write_buffer(&buffer.buffer, offset, bytes);
    }

    /// Reads a whole buffer back to the host (submits what was recorded, then waits).
    pub fn read(&self, buffer: &GpuBuffer) -> Vec<u8> {
        self.flush();
        let size = buffer.buffer.size();
        // Taken out of the cache while mapped, so concurrent readers never share a staging buffer.
        let cached = self.staging.lock().unwrap().remove(&size);
        let staging = cached.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&buffer.buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        self.submits.fetch_add(1, Ordering::Relaxed);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("mapping a readback buffer failed"));
        self.device.poll(wgpu::PollType::wait_indefinitely()).expect("waiting on the GPU failed");
        let bytes = {
            let view = slice.get_mapped_range().expect("readback buffer is not mapped");
            view[..buffer.bytes as usize].to_vec()
        };
        staging.unmap();
        self.staging.lock().unwrap().insert(size, staging);
        bytes
    }

    fn module(&self, shader: &'static str, code: &'static str) -> wgpu::ShaderModule {
        let mut modules = self.modules.lock().unwrap();
        modules
            .entry(shader)
            .or_insert_with(|| {
                self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader),
                    source: wgpu::ShaderSource::Wgsl(code.into()),
                })
            })
            .clone()
    }

    fn pipeline(&self, key: &PipelineKey, code: &'static str, constants: &[(&'static str, f64)]) -> wgpu::ComputePipeline {
        // Held through creation: two threads must not build (and cache bind groups against)
        // two different pipelines for one key.
        let mut pipelines = self.pipelines.lock().unwrap();
        if let Some(p) = pipelines.get(key) {
            return p.clone();
        }
        let module = self.module(key.shader, code);
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key.entry),
            layout: None,
            module: &module,
            entry_point: Some(key.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        pipelines.insert(key.clone(), pipeline.clone());
        pipeline
    }

    fn uniform(&self, bytes: &[u8]) -> (u64, wgpu::Buffer) {
        let mut padded = bytes.to_vec();
        padded.resize(bytes.len().div_ceil(16).max(1) * 16, 0);
        let mut cache = self.uniforms.lock().unwrap();
        let next_id = cache.len() as u64;
        cache
            .entry(padded.clone())
            .or_insert_with(|| {
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("params"),
                    size: padded.len() as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                self.queue.write_buffer(&buffer, 0, &padded);
                (next_id, buffer)
            })
            .clone()
    }

    /// Records one dispatch of `entry` in `shader` into the current step's encoder.
    ///
    /// `uniform` (if not empty) is bound at binding 0; its buffer is cached by content, so the
    /// parameter set of a layer is uploaded once. `bindings` must name exactly the storage
    /// bindings the entry point uses. `constants` set WGSL `override` values.
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch(
        &self,
        shader: &'static str,
        code: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        uniform: &[u8],
        bindings: &[Binding<'_>],
        workgroups: [u32; 3],
    ) {
        self.dispatch_with_textures(shader, code, entry, constants, uniform, bindings, &[], workgroups);
    }

    /// `dispatch` for an entry point that also reads textures: `textures` must name exactly its
    /// texture bindings.
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch_with_textures(
        &self,
        shader: &'static str,
        code: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
        uniform: &[u8],
        bindings: &[Binding<'_>],
        textures: &[TextureBinding<'_>],
        workgroups: [u32; 3],
    ) {
        if workgroups.contains(&0) {
            return;
        }
        let max = self.max_workgroups_per_dimension();
        assert!(
            workgroups.iter().all(|&g| g <= max),
            "{shader}::{entry}: {workgroups:?} workgroups exceed the adapter's {max} per dimension"
        );
        let key = PipelineKey {
            shader,
            entry,
            constants: constants.iter().map(|&(name, v)| (name, v.to_bits())).collect(),
        };
        let pipeline = self.pipeline(&key, code, constants);
        let uniform = (!uniform.is_empty()).then(|| self.uniform(uniform));
        let bg_key = BindGroupKey {
            pipeline: key,
            uniform: uniform.as_ref().map(|u| u.0),
            buffers: bindings.iter().map(|b| (b.index, b.buffer.id)).collect(),
            textures: textures.iter().map(|t| (t.index, t.texture.id)).collect(),
        };
        let bind_group = {
            let mut cache = self.bind_groups.lock().unwrap();
            cache
                .entry(bg_key)
                .or_insert_with(|| {
                    let mut entries: Vec<wgpu::BindGroupEntry> = bindings
                        .iter()
                        .map(|b| wgpu::BindGroupEntry { binding: b.index, resource: b.buffer.buffer.as_entire_binding() })
                        .chain(textures.iter().map(|t| wgpu::BindGroupEntry { binding: t.index, resource: wgpu::BindingResource::TextureView(&t.texture.view) }))
                        .collect();
                    if let Some((_, buf)) = &uniform {
                        entries.push(wgpu::BindGroupEntry { binding: 0, resource: buf.as_entire_binding() });
                    }
                    self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(entry),
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    })
                })
                .clone()
        };
        let mut recording = self.recording.lock().unwrap();
        let rec = recording.get_or_insert_with(|| Recording {
            pass: None,
            encoder: self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") }),
            dispatches: 0,
        });
        if rec.pass.is_none() {
            rec.pass = Some(rec.encoder.begin_compute_pass(&Default::default()).forget_lifetime());
        }
        let pass = rec.pass.as_mut().unwrap();
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        rec.dispatches += 1;
        self.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a buffer-to-buffer copy into the current step (ends the open compute pass).
    pub fn copy(&self, src: &GpuBuffer, src_offset: u64, dst: &GpuBuffer, dst_offset: u64, bytes: u64) {
        self.with_encoder(|e| e.copy_buffer_to_buffer(&src.buffer, src_offset, &dst.buffer, dst_offset, bytes));
    }

    /// Records zero-filling a whole buffer into the current step.
    pub fn clear(&self, buffer: &GpuBuffer) {
        self.with_encoder(|e| e.clear_buffer(&buffer.buffer, 0, None));
    }

    fn with_encoder(&self, f: impl FnOnce(&mut wgpu::CommandEncoder)) {
        let mut recording = self.recording.lock().unwrap();
        let rec = recording.get_or_insert_with(|| Recording {
            pass: None,
            encoder: self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") }),
            dispatches: 0,
        });
        drop(rec.pass.take());
        f(&mut rec.encoder);
        rec.dispatches += 1;
    }

    fn flush_if_recording(&self) {
        let pending = self.recording.lock().unwrap().as_ref().is_some_and(|r| r.dispatches > 0);
        if pending {
            self.flush();
        }
    }

    /// Submits everything recorded since the last flush as one command buffer.
    pub fn flush(&self) {
        // The lock is held through the submit so that no other thread's submit overtakes it.
        let mut recording = self.recording.lock().unwrap();
        if let Some(mut rec) = recording.take() {
            drop(rec.pass.take());
            self.queue.submit([rec.encoder.finish()]);
            self.submits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Submits pending work and blocks until the device is idle.
    pub fn wait(&self) {
        self.flush();
        self.device.poll(wgpu::PollType::wait_indefinitely()).expect("waiting on the GPU failed");
    }
}
