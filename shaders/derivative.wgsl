// Gaussian derivatives of order 1 (scipy's order=1 weights are antisymmetric, which the
// gaussian kernels' symmetric fold cannot run) and the gradient magnitude's sum of
// squares. Twin: src/cpu/derivative.rs. Host side: src/gpu/derivative.rs (keep `Params`
// in sync; a test checks its size and the bindings against the host).

struct Params {
    width: u32,      // the window's size (a tile and its halo, or the whole image)
    height: u32,
    depth: u32,
    samples: u32,    // width * height * depth * channels
    row_pitch: u32,  // threads per row of the 2-D dispatch grid
    axis: u32,       // antisym: 0 = z, 1 = y, 2 = x
    radius: u32,
    origin: u32,     // the window's place along `axis` in the whole image
    full: u32,
    flags: u32,      // see FLAG_*
    _pad0: u32,
    _pad1: u32,
}

const FLAG_FIRST: u32 = 1u;  // square_sum: the first term (dst holds nothing yet)

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;

// out[x] = sum_{j=1..r} w[r+j] * (in[x+j] - in[x-j]) along `axis`, reflected at the
// whole image's edge: scipy's correlate1d with the reversed order-1 kernel, whose
// centre tap is 0.
@compute @workgroup_size(WORKGROUP)
fn antisym(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let slice = params.width * params.height;
    let k = i % (slice * params.depth);
    var pos = k % params.width;
    var stride = 1u;
    var n = params.width;
    if params.axis == 0u {
        pos = k / slice;
        stride = slice;
        n = params.depth;
    } else if params.axis == 1u {
        pos = (k % slice) / params.width;
        stride = params.width;
        n = params.height;
    }
    let base = i - pos * stride;
    let r = i32(params.radius);
    var acc = 0.0;
    for (var j = 1; j <= r; j++) {
        let a = src[base + window_index(i32(pos) - j, params.origin, params.full, n) * stride];
        let b = src[base + window_index(i32(pos) + j, params.origin, params.full, n) * stride];
        acc = acc + weights[r + j] * (b - a);
    }
    dst[i] = acc;
}

// dst = src² (FLAG_FIRST) or dst + src², each rounded as numpy's float32 multiply and
// add round them.
@compute @workgroup_size(WORKGROUP)
fn square_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let sq = src[i] * src[i];
    if (params.flags & FLAG_FIRST) != 0u {
        dst[i] = sq;
    } else {
        dst[i] = dst[i] + sq;
    }
}

@compute @workgroup_size(WORKGROUP)
fn root(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    dst[i] = sqrt(dst[i]);
}
