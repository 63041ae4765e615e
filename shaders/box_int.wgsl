// scipy.ndimage's integer path for the box (`box:size=N,int=scipy`): one axis at a time,
// each pass truncated toward zero to the integer type. scipy's running sum of integer
// levels in f64 is exact, and its quotient by the size truncates to the integer
// quotient, so this computes exactly that, in i32 (a window of at most MAX_INT_BOX
// 16-bit levels fits). Twin: src/cpu/scipy_int.rs. Host side: src/gpu/scipy_int.rs
// (keep `Params` in sync).
//
// The planes hold integer levels as f32 (exact for 8- and 16-bit types), in and out.

struct Params {
    width: u32,
    height: u32,
    lo: u32,         // samples before the centre (size/2)
    hi: u32,         // and after it ((size-1)/2)
    origin_x: u32,   // the window's place in the whole image (see window_index)
    origin_y: u32,
    full_w: u32,
    full_h: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WORKGROUP_X: u32;
override WORKGROUP_Y: u32;

fn size() -> i32 {
    return i32(params.lo + params.hi + 1u);
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn vertical(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let base = gid.z * params.width * params.height;
    let y = i32(gid.y);
    var sum = 0;
    for (var i = y - i32(params.lo); i <= y + i32(params.hi); i++) {
        sum += i32(src[base + window_index(i, params.origin_y, params.full_h, params.height) * params.width + gid.x]);
    }
    // i32 division truncates toward zero, as C's cast of scipy's quotient does.
    dst[base + gid.y * params.width + gid.x] = f32(sum / size());
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn horizontal(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let row = gid.z * params.width * params.height + gid.y * params.width;
    let x = i32(gid.x);
    var sum = 0;
    for (var i = x - i32(params.lo); i <= x + i32(params.hi); i++) {
        sum += i32(src[row + window_index(i, params.origin_x, params.full_w, params.width)]);
    }
    dst[row + gid.x] = f32(sum / size());
}
