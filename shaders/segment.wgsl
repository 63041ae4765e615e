// Filling holes (scipy.ndimage.binary_fill_holes) and clearing the border
// (skimage.segmentation.clear_border): which connected components touch the border.
// Twin: src/cpu/segment.rs. Host side: src/gpu/segment.rs (keep `Params` in sync).
//
// A union-find on samples with atomics, as shaders/label.wgsl's (a root is its
// component's smallest index), over the samples `mode` cares about:
//   mode 0 (fill holes)     background (zero) samples, joined through face neighbours
//                           (connectivity 1, scipy's default cross structure)
//   mode 1 (clear border)   nonzero samples of equal value, joined through every
//                           neighbour (connectivity 2 in 2-D, 3 in a volume, as
//                           skimage.measure.label relabels them)
// Kernels, in order: init (parent[i] = i), unite (each sample with its neighbours that
// come before it in raster order), compress (parent[i] = its root), touch (roots of
// border samples flagged), write. Each plane (channel) on its own; the border is a
// slice's first and last rows and columns, and a volume's first and last slices.

struct Params {
    width: u32,
    height: u32,
    depth: u32,
    samples: u32,       // width * height * depth * planes
    row_pitch: u32,     // threads per grid row (see flat_index)
    connectivity: u32,  // 1, 2 or 3
    mode: u32,          // 0: fill holes, 1: clear border
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> parent: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> touched: array<atomic<u32>>;

override WORKGROUP: u32;

// Whether sample i takes part in the mode's components.
fn takes_part(i: u32) -> bool {
    if params.mode == 0u {
        return src[i] == 0.0;
    }
    return src[i] != 0.0;
}

fn same(i: u32, j: u32) -> bool {
    return takes_part(j) && (params.mode == 0u || src[i] == src[j]);
}

fn find(start: u32) -> u32 {
    var i = start;
    var p = atomicLoad(&parent[i]);
    while p != i {
        i = p;
        p = atomicLoad(&parent[i]);
    }
    return i;
}

fn unite(a0: u32, b0: u32) {
    var a = find(a0);
    var b = find(b0);
    loop {
        if a == b {
            return;
        }
        // Link the larger root under the smaller; if it was not a root any more,
        // continue from where it now points.
        let hi = max(a, b);
        let lo = min(a, b);
        let old = atomicMin(&parent[hi], lo);
        if old == hi {
            return;
        }
        a = find(old);
        b = find(lo);
    }
}

@compute @workgroup_size(WORKGROUP)
fn init(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    atomicStore(&parent[i], i);
}

@compute @workgroup_size(WORKGROUP)
fn unite_neighbours(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples || !takes_part(i) {
        return;
    }
    let w = i32(params.width);
    let h = i32(params.height);
    let x = i32(i % params.width);
    let y = i32((i / params.width) % params.height);
    let z = i32((i / (params.width * params.height)) % params.depth);
    // The neighbours before i in raster order: the slice before, the row before in
    // this slice, the sample before in this row.
    for (var dz = -1; dz <= 0; dz++) {
        for (var dy = -1; dy <= 1; dy++) {
            for (var dx = -1; dx <= 1; dx++) {
                let before = dz < 0 || (dz == 0 && (dy < 0 || (dy == 0 && dx < 0)));
                let far = u32(dz != 0) + u32(dy != 0) + u32(dx != 0);
                if !before || far > params.connectivity {
                    continue;
                }
                let zz = z + dz;
                let yy = y + dy;
                let xx = x + dx;
                if zz < 0 || yy < 0 || xx < 0 || yy >= h || xx >= w {
                    continue;
                }
                let j = u32(i32(i) + (dz * h + dy) * w + dx);
                if same(i, j) {
                    unite(i, j);
                }
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP)
fn compress(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    atomicStore(&parent[i], find(i));
}

@compute @workgroup_size(WORKGROUP)
fn touch(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples || !takes_part(i) {
        return;
    }
    let w = params.width;
    let h = params.height;
    let x = i % w;
    let y = (i / w) % h;
    let z = (i / (w * h)) % params.depth;
    let edge = x == 0u || y == 0u || x + 1u == w || y + 1u == h
        || (params.depth > 1u && (z == 0u || z + 1u == params.depth));
    if edge {
        atomicStore(&touched[atomicLoad(&parent[i])], 1u);
    }
}

@compute @workgroup_size(WORKGROUP)
fn write(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let reached = takes_part(i) && atomicLoad(&touched[atomicLoad(&parent[i])]) != 0u;
    if params.mode == 0u {
        // Foreground, and background the border does not reach: filled.
        dst[i] = select(255.0, 0.0, reached);
    } else {
        dst[i] = select(src[i], 0.0, reached);
    }
}
