// Filling small holes (skimage.morphology.remove_small_holes) runs removing small
// objects (label.wgsl) on the mask's inverse and inverts the result back; this is the
// inverse. Twin: `remove_holes` in src/cpu/label/mod.rs. Host side: src/gpu/holes.rs
// (keep `Params` in sync).

struct Params {
    samples: u32,
    row_pitch: u32,  // threads per row of the 2-D dispatch grid
    _pad0: u32,
    _pad1: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// numpy's `logical_not(x)` as a 0/255 mask: 255 where x is zero (NaN is nonzero).
@compute @workgroup_size(WORKGROUP)
fn invert(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    dst[i] = select(0.0, 255.0, src[i] == 0.0);
}
