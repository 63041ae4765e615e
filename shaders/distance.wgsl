// The Euclidean distance transform, scipy.ndimage.distance_transform_edt(x != 0).
// Twin: src/cpu/distance.rs. Host side: src/gpu/distance.rs (keep `Params` in sync).
//
// Separable passes, one thread per line:
//   rows      along x: each row's squared distance to its nearest zero, by two sweeps
//   columns   along y, then z: Meijster's lower envelope of the parabolas
//             G(i) + w (u - i)^2 of a line; the forward scan keeps the parabolas that
//             are lowest somewhere (feature `s`, from `t` on, value `gs`, in the scratch
//             buffers at the line's own positions), the backward scan reads them off
//   finish    one thread per sample: the distance
// `exact` (one sampling for every axis): squared distances are exact integers (i32;
// the host refuses frames whose squared sides could overflow it), and the result is
// sqrt(n) correctly rounded to f32 (checked against the midpoints between f32 values
// with exact 64-bit integer arithmetic, as WGSL's sqrt may be a few ulps off), times
// `scale`. Otherwise f32 squared distances with per-axis weights w = sampling^2.
// A plane with no zero at all keeps INF everywhere; `finish` then measures to scipy's
// stand-in feature one step before the first axis (z in a volume, y in 2-D).

struct Params {
    width: u32,
    height: u32,
    depth: u32,
    lines: u32,      // threads that do work: lines of a pass, or samples
    row_pitch: u32,  // threads per grid row (see flat_index)
    len: u32,        // columns: samples per line
    stride: u32,     // columns: distance between a line's samples
    inner: u32,      // columns: lines before the base jumps by `outer`
    outer: u32,      // columns: that jump
    exact: u32,      // 1: exact integer squared distances, 0: weighted f32
    weight: f32,     // this pass's weight (sampling^2), weighted mode
    scale: f32,      // finish, exact mode: the sampling
    wz: f32,         // finish, weighted mode, no zero in the plane: the weights
    wy: f32,
    wx: f32,
    _pad0: u32,
}

// No zero in reach (yet). In weighted mode `g` holds f32 bits, and these are a NaN's,
// which no squared distance is.
const INF: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> g: array<u32>;
@group(0) @binding(4) var<storage, read_write> sv: array<i32>;
@group(0) @binding(5) var<storage, read_write> tv: array<i32>;
@group(0) @binding(6) var<storage, read_write> gs: array<u32>;

override WORKGROUP: u32;

// The squared distance of `dx` steps along x (INF stays INF).
fn steps(dx: u32) -> u32 {
    if dx == INF {
        return INF;
    }
    if params.exact == 1u {
        return dx * dx;
    }
    return bitcast<u32>(params.weight * f32(dx * dx));
}

@compute @workgroup_size(WORKGROUP)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = flat_index(gid, params.row_pitch);
    if k >= params.lines {
        return;
    }
    let w = params.width;
    let base = k * w;
    // Forward: steps since the last zero; backward: the nearer of that and the next.
    var last = -1;
    for (var x = 0u; x < w; x++) {
        if src[base + x] == 0.0 {
            last = i32(x);
        }
        g[base + x] = select(INF, u32(i32(x) - last), last >= 0);
    }
    var next = -1;
    for (var x = i32(w) - 1; x >= 0; x--) {
        let i = base + u32(x);
        if src[i] == 0.0 {
            next = x;
        }
        var dx = g[i];
        if next >= 0 {
            dx = min(dx, u32(next - x));
        }
        g[i] = steps(dx);
    }
}

// floor(a / b) for b > 0 (WGSL's / truncates).
fn floor_div(a: i32, b: i32) -> i32 {
    if a >= 0 {
        return a / b;
    }
    return -((-a + b - 1) / b);
}

// Whether feature i (value gi) is higher at x than feature u (value gu).
fn higher(gi: u32, i: i32, gu: u32, u: i32, x: i32) -> bool {
    if params.exact == 1u {
        return i32(gi) + (x - i) * (x - i) > i32(gu) + (x - u) * (x - u);
    }
    let w = params.weight;
    return bitcast<f32>(gi) + w * f32((x - i) * (x - i)) > bitcast<f32>(gu) + w * f32((x - u) * (x - u));
}

// Meijster's Sep: the last x where feature i (< u) is at most feature u, floored.
fn sep(i: i32, gi: u32, u: i32, gu: u32) -> i32 {
    if params.exact == 1u {
        return floor_div((u * u + i32(gu)) - (i * i + i32(gi)), 2 * (u - i));
    }
    let w = params.weight;
    let num = (bitcast<f32>(gu) - bitcast<f32>(gi)) + w * f32(u * u - i * i);
    let s = floor(num / (2.0 * w * f32(u - i)));
    return i32(clamp(s, -1.0, f32(params.len)));
}

// The parabola of feature i (value gi) at x.
fn value_at(gi: u32, i: i32, x: i32) -> u32 {
    if params.exact == 1u {
        return gi + u32((x - i) * (x - i));
    }
    return bitcast<u32>(bitcast<f32>(gi) + params.weight * f32((x - i) * (x - i)));
}

@compute @workgroup_size(WORKGROUP)
fn columns(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = flat_index(gid, params.row_pitch);
    if k >= params.lines {
        return;
    }
    let base = (k / params.inner) * params.outer + k % params.inner;
    let stride = params.stride;
    let m = i32(params.len);
    var q = -1;
    for (var u = 0; u < m; u++) {
        let gu = g[base + u32(u) * stride];
        if gu == INF {
            continue;
        }
        loop {
            if q < 0 {
                break;
            }
            let at = base + u32(q) * stride;
            if higher(gs[at], sv[at], gu, u, tv[at]) {
                q -= 1;
            } else {
                break;
            }
        }
        if q < 0 {
            q = 0;
            sv[base] = u;
            tv[base] = 0;
            gs[base] = gu;
        } else {
            let at = base + u32(q) * stride;
            let start = 1 + sep(sv[at], gs[at], u, gu);
            if start < m {
                q += 1;
                let top = base + u32(q) * stride;
                sv[top] = u;
                tv[top] = start;
                gs[top] = gu;
            }
        }
    }
    if q < 0 {
        return; // no feature on the line: it stays INF
    }
    for (var u = m - 1; u >= 0; u--) {
        let at = base + u32(q) * stride;
        g[base + u32(u) * stride] = value_at(gs[at], sv[at], u);
        if u == tv[at] && q > 0 {
            q -= 1;
        }
    }
}

// 64-bit unsigned integers as (low, high) words, for exact_sqrt's checks.
fn mul64(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

fn shl64(n: u32, k: u32) -> vec2<u32> {
    if k == 0u {
        return vec2<u32>(n, 0u);
    }
    if k < 32u {
        return vec2<u32>(n << k, n >> (32u - k));
    }
    return vec2<u32>(0u, n << (k - 32u));
}

fn less64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// sqrt(n) correctly rounded to f32, for n < 2^31. WGSL's sqrt may be off by a few ulps:
// starting from it, step to the neighbour while sqrt(n) lies beyond the midpoint
// between them. r = m 2^(e-23) with m of 24 bits; the midpoint above is
// (2m+1) 2^(e-24), so sqrt(n) > it exactly when n 2^(48-2e) > (2m+1)^2 (both < 2^51);
// the one below is (2m-1) 2^(e-24), or (4m-1) 2^(e-25) where r is a power of two. No
// integer's root lies on a midpoint (see src/cpu/distance.rs).
fn exact_sqrt(n: u32) -> f32 {
    if n == 0u {
        return 0.0;
    }
    // The start: x * inverseSqrt(x), as many GPUs compute sqrt anyway; rounded twice,
    // it is often an ulp off, so the checks below run (and are tested) on every GPU.
    let x = f32(n);
    var r = x * inverseSqrt(x);
    for (var k = 0; k < 8; k++) {
        let bits = bitcast<u32>(r);
        let e = i32(bits >> 23u) - 127;
        let m = (bits & 0x7fffffu) | 0x800000u;
        let sh = u32(48 - 2 * e);
        let scaled = shl64(n, sh);
        if less64(mul64(2u * m + 1u, 2u * m + 1u), scaled) {
            r = bitcast<f32>(bits + 1u);
            continue;
        }
        var below: bool;
        if m == 0x800000u {
            below = less64(shl64(n, sh + 2u), mul64(4u * m - 1u, 4u * m - 1u));
        } else {
            below = less64(scaled, mul64(2u * m - 1u, 2u * m - 1u));
        }
        if !below {
            break;
        }
        r = bitcast<f32>(bits - 1u);
    }
    return r;
}

@compute @workgroup_size(WORKGROUP)
fn finish(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.lines {
        return;
    }
    let v = g[i];
    if v != INF {
        if params.exact == 1u {
            dst[i] = exact_sqrt(v) * params.scale;
        } else {
            dst[i] = sqrt(bitcast<f32>(v));
        }
        return;
    }
    // No zero in the plane: scipy's stand-in feature, one step before the first axis.
    let w = params.width;
    let h = params.height;
    let x = i % w;
    let y = (i / w) % h;
    let z = (i / (w * h)) % params.depth;
    var a = 0u;
    var b = (y + 1u) * (y + 1u);
    if params.depth > 1u {
        a = (z + 1u) * (z + 1u);
        b = y * y;
    }
    let c = x * x;
    if params.exact == 1u {
        dst[i] = exact_sqrt(a + b + c) * params.scale;
    } else {
        dst[i] = sqrt(params.wz * f32(a) + params.wy * f32(b) + params.wx * f32(c));
    }
}
