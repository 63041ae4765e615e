// Separable gaussian, scipy `gaussian_filter(mode='reflect')` semantics.
// A volume's slices are planes to the x and y passes; its z pass is `vertical_direct` on
// "rows" of whole slices (width = a slice's pixels, height = slices), in as many
// dispatches as its columns need, each from `x_base` on.
// Twin: src/cpu/gaussian.rs. Host side: src/gpu/gaussian.rs (keep `Params` in sync; a
// test checks its size and the bindings against the host). Tile and workgroup sizes are
// override constants the host sets, so the two sides cannot drift apart.
//
// One dispatch per axis; `weights` holds the 2r+1 taps (computed once on the host in
// f64, as scipy does). Both twins sum in the same symmetric order, with fused
// multiply-adds (the CPU twin's, and GPUs' native form), so they round alike:
//     acc = k[r]*x[i];  acc = fma(k[r+j], x[i-j] + x[i+j], acc)  for j = 1..r
// Radii up to MAX_TILE_RADIUS stage a tile plus halo in workgroup memory so each input
// sample is read from global memory once per workgroup; larger radii (sigma > ~16) read
// global memory directly, where the halo would not fit and caches serve the reuse.

struct Params {
    width: u32,      // the window's size
    height: u32,
    radius: u32,
    origin_x: u32,   // the window's place in the whole image (see window_index)
    origin_y: u32,
    full_w: u32,
    full_h: u32,
    x_base: u32,     // the first column of this dispatch (vertical_direct only)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;

override MAX_TILE_RADIUS: u32;     // largest radius the tiled kernels stage
override TILE_X: u32;              // outputs (and threads) per workgroup along a row
override TILE_COLS: u32;           // columns (threads along x) per workgroup, vertical pass
override TILE_THREAD_ROWS: u32;    // threads along y per workgroup, vertical pass
override TILE_ROWS: u32;           // outputs per column per workgroup, vertical pass
override DIRECT_X: u32;            // workgroup of the direct kernels
override DIRECT_Y: u32;

var<workgroup> row_tile: array<f32, TILE_X + 2u * MAX_TILE_RADIUS>;
var<workgroup> col_tile: array<f32, (TILE_ROWS + 2u * MAX_TILE_RADIUS) * TILE_COLS>;

fn plane_base(plane: u32) -> u32 {
    return plane * params.width * params.height;
}

fn x_index(x: i32) -> u32 {
    return window_index(x, params.origin_x, params.full_w, params.width);
}

fn y_index(y: i32) -> u32 {
    return window_index(y, params.origin_y, params.full_h, params.height);
}

@compute @workgroup_size(TILE_X)
fn horizontal_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let r = params.radius;
    let row = plane_base(wg.z) + wg.y * params.width;
    let x0 = i32(wg.x * TILE_X) - i32(r);
    for (var i = li; i < TILE_X + 2u * r; i += TILE_X) {
        row_tile[i] = src[row + x_index(x0 + i32(i))];
    }
    workgroupBarrier();
    let x = wg.x * TILE_X + li;
    if x >= params.width {
        return;
    }
    let c = li + r;
    var acc = weights[r] * row_tile[c];
    for (var j = 1u; j <= r; j++) {
        acc = fma(weights[r + j], row_tile[c - j] + row_tile[c + j], acc);
    }
    dst[row + x] = acc;
}

@compute @workgroup_size(TILE_COLS, TILE_THREAD_ROWS)
fn vertical_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = params.radius;
    let base = plane_base(wg.z);
    let x0 = wg.x * TILE_COLS;
    let y0 = i32(wg.y * TILE_ROWS) - i32(r);
    let li = lid.y * TILE_COLS + lid.x;
    // Threads of a row of the workgroup read adjacent columns: coalesced loads.
    for (var i = li; i < (TILE_ROWS + 2u * r) * TILE_COLS; i += TILE_COLS * TILE_THREAD_ROWS) {
        let ty = i / TILE_COLS;
        let x = x0 + i % TILE_COLS;
        if x < params.width {
            col_tile[i] = src[base + y_index(y0 + i32(ty)) * params.width + x];
        }
    }
    workgroupBarrier();
    let x = x0 + lid.x;
    if x >= params.width {
        return;
    }
    for (var k = 0u; k < TILE_ROWS / TILE_THREAD_ROWS; k++) {
        let ty = lid.y + k * TILE_THREAD_ROWS;
        let y = wg.y * TILE_ROWS + ty;
        if y < params.height {
            let c = (ty + r) * TILE_COLS + lid.x;
            var acc = weights[r] * col_tile[c];
            for (var j = 1u; j <= r; j++) {
                acc = fma(weights[r + j], col_tile[c - j * TILE_COLS] + col_tile[c + j * TILE_COLS], acc);
            }
            dst[base + y * params.width + x] = acc;
        }
    }
}

@compute @workgroup_size(DIRECT_X, DIRECT_Y)
fn horizontal_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let row = plane_base(gid.z) + gid.y * params.width;
    let x = i32(gid.x);
    var acc = weights[r] * src[row + gid.x];
    for (var j = 1u; j <= r; j++) {
        let a = src[row + x_index(x - i32(j))];
        let b = src[row + x_index(x + i32(j))];
        acc = fma(weights[r + j], a + b, acc);
    }
    dst[row + gid.x] = acc;
}

@compute @workgroup_size(DIRECT_X, DIRECT_Y)
fn vertical_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = params.x_base + gid.x;
    if x >= params.width || gid.y >= params.height {
        return;
    }
    let r = params.radius;
    let base = plane_base(gid.z);
    let y = i32(gid.y);
    var acc = weights[r] * src[base + gid.y * params.width + x];
    for (var j = 1u; j <= r; j++) {
        let a = src[base + y_index(y - i32(j)) * params.width + x];
        let b = src[base + y_index(y + i32(j)) * params.width + x];
        acc = fma(weights[r + j], a + b, acc);
    }
    dst[base + gid.y * params.width + x] = acc;
}
