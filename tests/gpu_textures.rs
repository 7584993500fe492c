//! `GpuContext` textures: a buffer copied into an rgba32float or r32float texture inside the
//! step's encoder reads back, texel by texel, through `textureLoad` in a compute shader.

use ssdlt::gpu::{Binding, TexelFormat, TextureBinding};

use crate::common;

/// out[y * width + x] = the texel (x, y) of `t` (all four channels for rgba, the first for r).
const READ_TEXELS: &str = "
struct P { width: u32, height: u32, channels: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: P;
@group(0) @binding(1) var t: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn read_texels(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.width * params.height) {
        return;
    }
    let texel = textureLoad(t, vec2<i32>(i32(i % params.width), i32(i / params.width)), 0);
    for (var c = 0u; c < params.channels; c = c + 1u) {
        out[i * params.channels + c] = texel[c];
    }
}
";

/// Copies `rows` rows of `width` texels, `pitch` floats apart in the source buffer, into a
/// texture and reads it back through the shader.
fn round_trip(format: TexelFormat, width: usize, rows: usize, pitch: usize) -> (Vec<f32>, Vec<f32>) {
    let dev = common::gpu();
    let gpu = dev.gpu().expect("a wgpu device");
    let channels = (format.texel_bytes() / 4) as usize;
    let src = common::seeded(pitch * rows, 7, 1.0);
    let buffer = dev.from_f32(&[src.len()], &src);
    let texture = gpu.create_texture(width as u32, rows as u32, format);
    assert_eq!(texture.size(), (width as u32, rows as u32));
    let out = dev.zeros(&[width * rows * channels]);
    gpu.copy_to_texture(buffer.gpu(), 0, (pitch * 4) as u32, &texture);
    let params: [u32; 4] = [width as u32, rows as u32, channels as u32, 0];
    gpu.dispatch_with_textures(
        "gpu_textures_test",
        READ_TEXELS,
        "read_texels",
        &[],
        bytemuck::bytes_of(&params),
        &[Binding { index: 2, buffer: out.gpu() }],
        &[TextureBinding { index: 1, texture: &texture }],
        [(width * rows).div_ceil(8) as u32, 1, 1],
    );
    let want: Vec<f32> = (0..rows).flat_map(|y| src[y * pitch..y * pitch + width * channels].to_vec()).collect();
    (out.to_vec(), want)
}

#[test]
fn an_rgba_texture_copied_from_a_buffer_reads_back_through_texture_load() {
    // 16 texels of 4 floats: one 256-byte row per texel row, no padding.
    let (got, want) = round_trip(TexelFormat::Rgba32Float, 16, 5, 64);
    assert_eq!(got, want);
}

#[test]
fn an_r32_texture_copied_from_rows_with_a_padded_pitch_reads_back_only_its_texels() {
    // 37 texels per row out of a 128-float (512-byte) pitch: the padding is not copied.
    let (got, want) = round_trip(TexelFormat::R32Float, 37, 3, 128);
    assert_eq!(got, want);
}
