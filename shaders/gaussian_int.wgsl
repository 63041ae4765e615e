// scipy.ndimage's integer path for the gaussian (`gaussian:...,int=scipy`): one axis at
// a time in f64, each pass truncated toward zero to the integer type, as scipy does on
// an integer array. Twin: src/cpu/scipy_int.rs. Host side: src/gpu/scipy_int.rs (keep
// `Params` in sync). Needs SHADER_F64; the host checks for it first.
//
// Per output, scipy's `correlate1d` for a symmetric kernel, outermost taps first:
//     acc = x[i]*w[r];  acc += (x[i-j] + x[i+j]) * w[r+j]  for j = r down to 1
// Each product is rounded before it is added, as in scipy's build: `unfused` keeps
// the compiler from contracting the two into a fused multiply-add, which rounds once
// and would move sums that land within an ulp of an integer to the other side of it.
//
// The planes hold integer levels as f32 (exact for 8- and 16-bit types), in and out.

struct Params {
    width: u32,
    height: u32,
    radius: u32,
    origin_x: u32,   // the window's place in the whole image (see window_index)
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    lo: i32,         // the integer type's range
    hi: i32,
    opaque: u32,     // always 0, unknown to the compiler: see `unfused`
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f64>;

override WORKGROUP_X: u32;
override WORKGROUP_Y: u32;

// `p`, through a select the compiler cannot resolve: the product is rounded on its own.
fn unfused(p: f64) -> f64 {
    return select(p, -p, params.opaque != 0u);
}

// Truncation toward zero (WGSL's float-to-int conversion), clamped to the type.
fn finish(acc: f64) -> f32 {
    return f32(clamp(i32(acc), params.lo, params.hi));
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn vertical(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let base = gid.z * params.width * params.height;
    let y = i32(gid.y);
    var acc = f64(src[base + gid.y * params.width + gid.x]) * weights[r];
    for (var j = r; j >= 1u; j--) {
        let a = src[base + window_index(y - i32(j), params.origin_y, params.full_h, params.height) * params.width + gid.x];
        let b = src[base + window_index(y + i32(j), params.origin_y, params.full_h, params.height) * params.width + gid.x];
        acc += unfused((f64(a) + f64(b)) * weights[r + j]);
    }
    dst[base + gid.y * params.width + gid.x] = finish(acc);
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn horizontal(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let row = gid.z * params.width * params.height + gid.y * params.width;
    let x = i32(gid.x);
    var acc = f64(src[row + gid.x]) * weights[r];
    for (var j = r; j >= 1u; j--) {
        let a = src[row + window_index(x - i32(j), params.origin_x, params.full_w, params.width)];
        let b = src[row + window_index(x + i32(j), params.origin_x, params.full_w, params.width)];
        acc += unfused((f64(a) + f64(b)) * weights[r + j]);
    }
    dst[row + gid.x] = finish(acc);
}
