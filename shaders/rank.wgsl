// Rank filters: the median (scipy `median_filter`) and grey morphology by chords
// (scikit-image `erosion`/`dilation` and their compositions). Twin: src/cpu/rank.rs.
// Host side: src/gpu/rank.rs (keep `Params` in sync; a test checks its size and the
// bindings against the host). WORKGROUP comes from the host.
//
// Samples are compared as totally ordered keys (the f32 bits, flipped so that unsigned
// order is numeric order, -0 below +0, NaN at the ends), on both backends: a rank is
// then one sample's exact bits whatever the algorithm, and min and max are the same on
// every adapter.
//
// Morphology: a footprint is a list of chords along x, `[x-lo, x+hi]` of the row
// (dz, dy) away. `grow` widens a running extreme per sample (`run`, as keys) from one
// chord extent to the next, reading only the samples the wider chord adds; `fold` then
// takes, for every output, the running extremes of the rows whose chords have that
// extent. A disk of radius r costs O(r) reads per output, not r².

struct Params {
    width: u32,      // the window's size (a tile and its halo, or the whole image)
    height: u32,
    depth: u32,
    samples: u32,    // width * height * depth * channels
    row_pitch: u32,  // threads per row of the 2-D dispatch grid
    origin_x: u32,   // the window's place in the whole image
    origin_y: u32,
    origin_z: u32,
    full_w: u32,
    full_h: u32,
    full_d: u32,
    flags: u32,      // see FLAG_*
    lo_x: u32,       // median: window before/after the centre per axis;
    hi_x: u32,       // grow: this chord extent (x only)
    lo_y: u32,
    hi_y: u32,
    lo_z: u32,
    hi_z: u32,
    prev_lo: u32,    // grow: the previous extent (unless FLAG_FRESH)
    prev_hi: u32,
    first: u32,      // fold: this extent's row offsets, offsets[first .. first + count]
    count: u32,
    _pad0: u32,
    _pad1: u32,
}

const FLAG_MAX: u32 = 1u;      // maximum instead of minimum
const FLAG_FRESH: u32 = 2u;    // grow: the first extent (no running extreme yet)
const FLAG_INIT: u32 = 4u;     // fold: the first extent (dst holds nothing yet)
const FLAG_REVERSE: u32 = 8u;  // difference: dst - src (black top-hat) not src - dst
const FLAG_ADD: u32 = 16u;     // difference: dst + src (the terms of a Laplacian)

// The largest median window (ops::MAX_MEDIAN_WINDOW).
const MAX_WINDOW: u32 = 729u;

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> offsets: array<vec2<i32>>;
@group(0) @binding(4) var<storage, read_write> run: array<u32>;

fn key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_key(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

fn extreme(a: u32, b: u32) -> u32 {
    return select(min(a, b), max(a, b), (params.flags & FLAG_MAX) != 0u);
}

struct At {
    c: u32,
    z: u32,
    y: u32,
    x: u32,
}

fn place(i: u32) -> At {
    let slice = params.width * params.height;
    let plane = slice * params.depth;
    let k = i % plane;
    let r = k % slice;
    return At(i / plane, k / slice, r / params.width, r % params.width);
}

fn index(c: u32, z: u32, y: u32, x: u32) -> u32 {
    return ((c * params.depth + z) * params.height + y) * params.width + x;
}

fn wx(i: i32) -> u32 {
    return window_index(i, params.origin_x, params.full_w, params.width);
}

fn wy(i: i32) -> u32 {
    return window_index(i, params.origin_y, params.full_h, params.height);
}

fn wz(i: i32) -> u32 {
    return window_index(i, params.origin_z, params.full_d, params.depth);
}

// The median: the window's keys in a per-thread array, then Wirth's selection of the
// element at sorted index n/2 (scipy's rank for the median, the upper one for even n).
@compute @workgroup_size(WORKGROUP)
fn median(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let p = place(i);
    var w: array<u32, MAX_WINDOW>;
    var n = 0;
    for (var dz = -i32(params.lo_z); dz <= i32(params.hi_z); dz++) {
        let z = wz(i32(p.z) + dz);
        for (var dy = -i32(params.lo_y); dy <= i32(params.hi_y); dy++) {
            let row = index(p.c, z, wy(i32(p.y) + dy), 0u);
            for (var dx = -i32(params.lo_x); dx <= i32(params.hi_x); dx++) {
                w[n] = key(src[row + wx(i32(p.x) + dx)]);
                n++;
            }
        }
    }
    let k = n / 2;
    var l = 0;
    var r = n - 1;
    while l < r {
        let pivot = w[k];
        var a = l;
        var b = r;
        loop {
            while w[a] < pivot {
                a++;
            }
            while pivot < w[b] {
                b--;
            }
            if a <= b {
                let t = w[a];
                w[a] = w[b];
                w[b] = t;
                a++;
                b--;
            }
            if a > b {
                break;
            }
        }
        if b < k {
            l = a;
        }
        if k < a {
            r = b;
        }
    }
    dst[i] = from_key(w[k]);
}

// Widens every sample's running extreme along x to the chord [x-lo, x+hi].
@compute @workgroup_size(WORKGROUP)
fn grow(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let p = place(i);
    let row = index(p.c, p.z, p.y, 0u);
    let x = i32(p.x);
    var m: u32;
    var from_lo = -i32(params.lo_x);
    var to_lo = -1;
    var from_hi = 0;
    let to_hi = i32(params.hi_x);
    if (params.flags & FLAG_FRESH) != 0u {
        m = key(src[row + wx(x + from_lo)]);
        from_lo += 1;
        to_lo = to_hi;
        from_hi = to_hi + 1;
    } else {
        m = run[i];
        to_lo = -i32(params.prev_lo) - 1;
        from_hi = i32(params.prev_hi) + 1;
    }
    for (var d = from_lo; d <= to_lo; d++) {
        m = extreme(m, key(src[row + wx(x + d)]));
    }
    for (var d = from_hi; d <= to_hi; d++) {
        m = extreme(m, key(src[row + wx(x + d)]));
    }
    run[i] = m;
}

// Folds the running extremes of this extent's rows into every output.
@compute @workgroup_size(WORKGROUP)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let p = place(i);
    var m: u32;
    var start = params.first;
    if (params.flags & FLAG_INIT) != 0u {
        let o = offsets[start];
        m = run[index(p.c, wz(i32(p.z) + o.x), wy(i32(p.y) + o.y), p.x)];
        start += 1u;
    } else {
        m = key(dst[i]);
    }
    for (var t = start; t < params.first + params.count; t++) {
        let o = offsets[t];
        m = extreme(m, run[index(p.c, wz(i32(p.z) + o.x), wy(i32(p.y) + o.y), p.x)]);
    }
    dst[i] = from_key(m);
}

// A top-hat's last step: the image minus its opening (white), or the closing minus the
// image (black, FLAG_REVERSE), in f32 as numpy subtracts; also a difference of
// gaussians (src - dst) and the sum of a Laplacian's terms (FLAG_ADD: dst + src).
@compute @workgroup_size(WORKGROUP)
fn difference(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    if (params.flags & FLAG_ADD) != 0u {
        dst[i] = dst[i] + src[i];
    } else if (params.flags & FLAG_REVERSE) != 0u {
        dst[i] = dst[i] - src[i];
    } else {
        dst[i] = src[i] - dst[i];
    }
}
