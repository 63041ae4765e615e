// Separable gaussian, scipy `gaussian_filter(mode='reflect')` semantics.
// Twin: src/cpu/gaussian.rs. Host side: src/gpu/gaussian.rs (keep `Params`, TILE_*
// and MAX_TILE_RADIUS in sync).
//
// One dispatch per axis; `weights` holds the 2r+1 taps (computed once on the host in
// f64, as scipy does). Both twins sum in the same symmetric order:
//     k[r]*x[i] + sum_{j=1..r} k[r+j] * (x[i-j] + x[i+j])
// Radii up to MAX_TILE_RADIUS stage a tile plus halo in workgroup memory so each input
// sample is read from global memory once per workgroup; larger radii (sigma > ~16) read
// global memory directly, where the halo would not fit and caches serve the reuse.

struct Params {
    width: u32,
    height: u32,
    radius: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;

const MAX_TILE_RADIUS: u32 = 64u;
const TILE_X: u32 = 256u;          // outputs per workgroup along a row
const TILE_COLS: u32 = 16u;        // columns per workgroup, vertical pass
const TILE_ROWS: u32 = 64u;        // outputs per column per workgroup, vertical pass

var<workgroup> row_tile: array<f32, 384>;     // TILE_X + 2 * MAX_TILE_RADIUS
var<workgroup> col_tile: array<f32, 3072>;    // (TILE_ROWS + 2 * MAX_TILE_RADIUS) * TILE_COLS

// scipy 'reflect' (d c b a | a b c d | d c b a), repeated for any distance.
fn reflect(i: i32, n: i32) -> i32 {
    let period = 2 * n;
    var m = i % period;
    if m < 0 {
        m += period;
    }
    if m >= n {
        m = period - 1 - m;
    }
    return m;
}

fn plane_base(plane: u32) -> u32 {
    return plane * params.width * params.height;
}

@compute @workgroup_size(256)
fn horizontal_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = params.radius;
    let w = i32(params.width);
    let row = plane_base(wg.z) + wg.y * params.width;
    let x0 = i32(wg.x * TILE_X) - i32(r);
    for (var i = li; i < TILE_X + 2u * r; i += 256u) {
        row_tile[i] = src[row + u32(reflect(x0 + i32(i), w))];
    }
    workgroupBarrier();
    let x = wg.x * TILE_X + li;
    if x >= params.width {
        return;
    }
    let c = li + r;
    var acc = weights[r] * row_tile[c];
    for (var j = 1u; j <= r; j++) {
        acc += weights[r + j] * (row_tile[c - j] + row_tile[c + j]);
    }
    dst[row + x] = acc;
}

@compute @workgroup_size(16, 16)
fn vertical_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = params.radius;
    let h = i32(params.height);
    let base = plane_base(wg.z);
    let x0 = wg.x * TILE_COLS;
    let y0 = i32(wg.y * TILE_ROWS) - i32(r);
    let li = lid.y * TILE_COLS + lid.x;
    // Threads of a row of the workgroup read adjacent columns: coalesced loads.
    for (var i = li; i < (TILE_ROWS + 2u * r) * TILE_COLS; i += 256u) {
        let ty = i / TILE_COLS;
        let x = x0 + i % TILE_COLS;
        if x < params.width {
            col_tile[i] = src[base + u32(reflect(y0 + i32(ty), h)) * params.width + x];
        }
    }
    workgroupBarrier();
    let x = x0 + lid.x;
    if x >= params.width {
        return;
    }
    for (var k = 0u; k < TILE_ROWS / 16u; k++) {
        let ty = lid.y + k * 16u;
        let y = wg.y * TILE_ROWS + ty;
        if y < params.height {
            let c = (ty + r) * TILE_COLS + lid.x;
            var acc = weights[r] * col_tile[c];
            for (var j = 1u; j <= r; j++) {
                acc += weights[r + j] * (col_tile[c - j * TILE_COLS] + col_tile[c + j * TILE_COLS]);
            }
            dst[base + y * params.width + x] = acc;
        }
    }
}

@compute @workgroup_size(64, 4)
fn horizontal_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let w = i32(params.width);
    let row = plane_base(gid.z) + gid.y * params.width;
    let x = i32(gid.x);
    var acc = weights[r] * src[row + gid.x];
    for (var j = 1u; j <= r; j++) {
        let a = src[row + u32(reflect(x - i32(j), w))];
        let b = src[row + u32(reflect(x + i32(j), w))];
        acc += weights[r + j] * (a + b);
    }
    dst[row + gid.x] = acc;
}

@compute @workgroup_size(64, 4)
fn vertical_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let h = i32(params.height);
    let base = plane_base(gid.z);
    let y = i32(gid.y);
    var acc = weights[r] * src[base + gid.y * params.width + gid.x];
    for (var j = 1u; j <= r; j++) {
        let a = src[base + u32(reflect(y - i32(j), h)) * params.width + gid.x];
        let b = src[base + u32(reflect(y + i32(j), h)) * params.width + gid.x];
        acc += weights[r + j] * (a + b);
    }
    dst[base + gid.y * params.width + gid.x] = acc;
}
