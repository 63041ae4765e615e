// Box (mean) filter, scipy `uniform_filter(mode='reflect')` semantics.
// Twin: src/cpu/box_blur.rs. Host side: src/gpu/box_blur.rs (keep `Params` in sync; a
// test checks its size and the bindings against the host). WORKGROUP comes from the host.
//
// Running sums make the cost per output independent of the window size: each thread
// owns a segment of `seg_len` outputs along one line, sums its first window directly
// (`size` reads, amortised over seg_len >= size outputs) and then slides, adding the
// sample entering and subtracting the one leaving. Sums are Kahan-compensated so a long
// slide in f32 does not drift (the CPU twin slides in f64).
//
// A running sum's rounding depends on where it starts, so segments start at multiples
// of seg_len in the whole image, wherever the window (a tile and its halo) begins: an
// output then gets the same arithmetic tiled as untiled. The window's first segment may
// start before the window; its outputs are in the halo and unused.

struct Params {
    width: u32,     // the window's size
    height: u32,
    lo: u32,        // samples before the centre: size / 2
    hi: u32,        // samples after the centre: (size - 1) / 2
    seg_len: u32,   // outputs per thread
    origin_x: u32,  // the window's place in the whole image (see window_index)
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    x_base: u32,    // the first column of this dispatch (vertical only)
    _pad0: u32,
    _pad1: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

struct Kahan {
    sum: f32,
    comp: f32,
}

fn kahan_add(k: ptr<function, Kahan>, v: f32) {
    let y = v - (*k).comp;
    let t = (*k).sum + y;
    (*k).comp = (t - (*k).sum) - y;
    (*k).sum = t;
}

// Slides along a line of `n` window samples at `first + i * stride`, writing outputs
// [start, end); `origin` and `full` place the line in the whole image.
fn slide(first: u32, stride: u32, n: u32, origin: u32, full: u32, start: u32, end: u32) {
    let lo = i32(params.lo);
    let hi = i32(params.hi);
    let size = f32(params.lo + params.hi + 1u);
    var k = Kahan(0.0, 0.0);
    for (var i = i32(start) - lo; i <= i32(start) + hi; i++) {
        kahan_add(&k, src[first + window_index(i, origin, full, n) * stride]);
    }
    for (var o = start; o < end; o++) {
        dst[first + o * stride] = k.sum / size;
        let enter = src[first + window_index(i32(o) + hi + 1, origin, full, n) * stride];
        let leave = src[first + window_index(i32(o) - lo, origin, full, n) * stride];
        kahan_add(&k, enter);
        kahan_add(&k, -leave);
    }
}

// The window outputs of segment `s` (counted from the first whole-image segment that
// meets the window) along an axis: [start, end), empty past the window.
fn segment(s: u32, origin: u32, n: u32) -> vec2<u32> {
    let first = (origin / params.seg_len + s) * params.seg_len;
    let start = max(first, origin) - origin;
    let end = min(first + params.seg_len - origin, n);
    return vec2<u32>(start, end);
}

// Along columns: neighbouring threads own neighbouring columns, so reads coalesce. A
// volume's z pass runs here too, on "rows" of whole slices (width = a slice's pixels,
// height = slices, seg_len 1: each output sums its own window), in as many dispatches
// as its columns need, each from `x_base` on.
@compute @workgroup_size(WORKGROUP)
fn vertical(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = params.x_base + gid.x;
    let seg = segment(gid.y, params.origin_y, params.height);
    if x >= params.width || seg.x >= params.height {
        return;
    }
    let first = gid.z * params.width * params.height + x;
    slide(first, params.width, params.height, params.origin_y, params.full_h, seg.x, seg.y);
}

// Along rows: one thread per (row, segment).
@compute @workgroup_size(WORKGROUP)
fn horizontal(@builtin(global_invocation_id) gid: vec3<u32>) {
    let y = gid.x;
    let seg = segment(gid.y, params.origin_x, params.width);
    if y >= params.height || seg.x >= params.width {
        return;
    }
    let first = (gid.z * params.height + y) * params.width;
    slide(first, 1u, params.width, params.origin_x, params.full_w, seg.x, seg.y);
}
