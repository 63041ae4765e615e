// Cropping a window: copies a box (a rectangle of some slices) of every plane into compact planes, so that a
// tile's inner part (without its halo) can be downloaded or reduced (Otsu's min/max
// and histogram) on its own. Twin: src/cpu/mod.rs (`Planes::crop`). Host side:
// src/gpu/window.rs (keep `Params` in sync; a test checks its size and the bindings).

struct Params {
    width: u32,       // the source planes' size
    height: u32,
    x0: u32,          // the box
    y0: u32,
    crop_w: u32,
    crop_h: u32,
    samples: u32,     // crop_w * crop_h * crop_d * channels
    row_pitch: u32,   // threads per row of the 2-D dispatch grid
    depth: u32,       // the source planes' slices
    z0: u32,
    crop_d: u32,
    _pad: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn crop(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let slice_len = params.crop_w * params.crop_h;
    let plane_len = slice_len * params.crop_d;
    let c = i / plane_len;
    let k = i % plane_len;
    let z = params.z0 + k / slice_len;
    let r = k % slice_len;
    let y = params.y0 + r / params.crop_w;
    let x = params.x0 + r % params.crop_w;
    dst[i] = src[((c * params.depth + z) * params.height + y) * params.width + x];
}
