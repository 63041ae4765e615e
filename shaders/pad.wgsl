// Padding a window past the whole image's edges by a boundary mode per axis (scipy's `mode`:
// nearest, mirror, wrap, constant; reflect too), so that a filter with that mode is the
// reflect filter of the padded planes, cropped (see src/ops/boundary.rs). Twin:
// src/cpu/pad.rs. Host side: src/gpu/pad.rs (keep `Params` in sync; a test checks its
// size and the bindings).

struct Params {
    width: u32,       // the source window's size
    height: u32,
    depth: u32,
    pad_x: u32,       // samples added on each side of each axis
    pad_y: u32,
    pad_z: u32,
    origin_x: u32,    // the window's place in the whole image
    origin_y: u32,
    origin_z: u32,
    full_w: u32,      // the whole image's size
    full_h: u32,
    full_d: u32,
    mode_x: u32,      // per axis: 0 reflect, 1 nearest, 2 mirror, 3 wrap, 4 constant
    mode_y: u32,
    mode_z: u32,
    cval: f32,        // the value outside the image with constant
    samples: u32,     // samples of the padded planes, every channel
    row_pitch: u32,   // threads per row of the 2-D dispatch grid
    _pad0: u32,
    _pad1: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// The whole-image index sample `g` comes from along an axis of `n` samples, any
// distance past the edges; -1: constant's cval. Twin: `extend` in src/ops/boundary.rs.
fn extend(g: i32, n: i32, mode: u32) -> i32 {
    if g >= 0 && g < n {
        return g;
    }
    switch mode {
        case 1u: {
            return clamp(g, 0, n - 1);
        }
        case 2u: {
            if n == 1 {
                return 0;
            }
            let period = 2 * n - 2;
            var m = g % period;
            if m < 0 {
                m += period;
            }
            return select(m, period - m, m >= n);
        }
        case 3u: {
            var m = g % n;
            if m < 0 {
                m += n;
            }
            return m;
        }
        case 4u: {
            return -1;
        }
        default: {
            return reflect(g, n);
        }
    }
}

// The window index padded position `q` (of `n + 2 * by`) reads along an axis, or -1.
fn source_index(q: u32, by: u32, origin: u32, full: u32, n: u32, mode: u32) -> i32 {
    let g = extend(i32(q) - i32(by) + i32(origin), i32(full), mode);
    if g < 0 {
        return -1;
    }
    return clamp(g - i32(origin), 0, i32(n) - 1);
}

@compute @workgroup_size(WORKGROUP)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let w = params.width + 2u * params.pad_x;
    let h = params.height + 2u * params.pad_y;
    let d = params.depth + 2u * params.pad_z;
    let x = i % w;
    let y = (i / w) % h;
    let z = (i / (w * h)) % d;
    let c = i / (w * h * d);
    let sx = source_index(x, params.pad_x, params.origin_x, params.full_w, params.width, params.mode_x);
    let sy = source_index(y, params.pad_y, params.origin_y, params.full_h, params.height, params.mode_y);
    let sz = source_index(z, params.pad_z, params.origin_z, params.full_d, params.depth, params.mode_z);
    if sx < 0 || sy < 0 || sz < 0 {
        dst[i] = params.cval;
        return;
    }
    let slice = params.width * params.height;
    dst[i] = src[c * slice * params.depth + u32(sz) * slice + u32(sy) * params.width + u32(sx)];
}
