// The local threshold's comparison: `x > blur - offset` per sample, the blur a gaussian
// the gaussian kernels made. Twin: `local` in src/cpu/threshold.rs. Host side:
// src/gpu/local.rs (keep `Params` in sync; a test checks its size and the bindings).

struct Params {
    samples: u32,
    row_pitch: u32,  // threads per row of the 2-D dispatch grid
    offset: f32,     // subtracted from the blur, in f32 as the twin does
    _pad: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
// In: the blur. Out: the 0/255 mask.
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn compare(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    dst[i] = select(0.0, 255.0, src[i] > dst[i] - params.offset);
}
