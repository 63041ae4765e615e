// Connected components (scipy/skimage numbering) and removing small objects.
// Twin: src/cpu/label.rs. Host side: src/gpu/label.rs (keep `Params` in sync).
//
// Union-find on pixels with atomics, in a fixed number of dispatches whatever the
// image holds (no repeat-until-unchanged loop with readbacks):
//   init      parent[i] = i for foreground (nonzero, NaN included), NONE for background
//   unite     each foreground pixel joins its neighbours that come before it in raster
//             order, as generate_binary_structure(3, c) connects them: left, up and
//             the slice before (c = 1), their diagonals within a slice or across two
//             axes (c = 2), and the corners of the slice before (c = 3); in a 2-D image
//             c = 3 is c = 2. A union links the larger root under the smaller with
//             atomicMin, retrying when another thread moved the root first
//   compress  parent[i] = the root of i
// Roots only ever get smaller parents, so a component's root is its smallest index:
// its first pixel in raster order. Numbering the roots in that order (an exclusive
// prefix sum of "is a root", per plane) gives scipy's labels 1..N.
//   flag      scan[i] = 1 where i is a root
//   scan_blocks / scan_add   the prefix sum, 256 at a time, level by level
//   write     label[i] = scan[root] - scan[plane start] + 1
// Removing small objects counts each object's pixels (count) and keeps those that are
// large enough (keep): components of a mask after compress, or label values directly.
// Planes (channels; each a volume's slices) are labelled on their own: no pixel joins
// another plane's.

struct Params {
    width: u32,
    height: u32,
    samples: u32,       // width * height * planes
    row_pitch: u32,     // threads per grid row (see flat_index)
    connectivity: u32,  // 1, 2 or 3
    level: u32,         // scan: offset of the level being scanned in `scan`
    level_len: u32,     // scan: its length
    next: u32,          // scan: offset of the next level (the block totals)
    labels_mode: u32,   // count/keep: 1 when the input holds labels, 0 for a mask
    remove_below: u32,  // count/keep: an object of fewer pixels is removed
    depth: u32,         // slices per plane (1 for a 2-D image)
    _pad0: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> parent: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> scan: array<u32>;
@group(0) @binding(5) var<storage, read_write> sizes: array<atomic<u32>>;

override WORKGROUP: u32;   // threads per workgroup, and the scan's block size

var<workgroup> block: array<u32, WORKGROUP>;

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
        // Link the larger root under the smaller. If it was not a root any more
        // (another thread linked it meanwhile), continue from where it now points.
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
    atomicStore(&parent[i], select(NONE, i, src[i] != 0.0));
}

fn join(i: u32, j: u32) {
    if src[j] != 0.0 {
        unite(i, j);
    }
}

@compute @workgroup_size(WORKGROUP)
fn unite_neighbours(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples || src[i] == 0.0 {
        return;
    }
    let w = params.width;
    let h = params.height;
    let c = params.connectivity;
    let x = i % w;
    let y = (i / w) % h;                    // row within the slice
    let z = (i / (w * h)) % params.depth;   // slice within the plane
    let left = x > 0u;
    let right = x + 1u < w;
    if left {
        join(i, i - 1u);
    }
    if y > 0u {
        let up = i - w;
        join(i, up);
        if c >= 2u {
            if left {
                join(i, up - 1u);
            }
            if right {
                join(i, up + 1u);
            }
        }
    }
    if z > 0u {
        let front = i - w * h;
        join(i, front);
        if c >= 2u {
            if left {
                join(i, front - 1u);
            }
            if right {
                join(i, front + 1u);
            }
            if y > 0u {
                join(i, front - w);
                if c == 3u && left {
                    join(i, front - w - 1u);
                }
                if c == 3u && right {
                    join(i, front - w + 1u);
                }
            }
            if y + 1u < h {
                join(i, front + w);
                if c == 3u && left {
                    join(i, front + w - 1u);
                }
                if c == 3u && right {
                    join(i, front + w + 1u);
                }
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP)
fn compress(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples || atomicLoad(&parent[i]) == NONE {
        return;
    }
    atomicStore(&parent[i], find(i));
}

@compute @workgroup_size(WORKGROUP)
fn flag(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    scan[i] = select(0u, 1u, atomicLoad(&parent[i]) == i);
}

// Exclusive prefix sum of each block of WORKGROUP values of the level, in place; the
// block's total goes to the next level.
@compute @workgroup_size(WORKGROUP)
fn scan_blocks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = flat_index(gid, params.row_pitch);
    var v = 0u;
    if i < params.level_len {
        v = scan[params.level + i];
    }
    block[li] = v;
    workgroupBarrier();
    // Hillis-Steele inclusive scan in workgroup memory.
    for (var d = 1u; d < WORKGROUP; d = d * 2u) {
        var add = 0u;
        if li >= d {
            add = block[li - d];
        }
        workgroupBarrier();
        block[li] += add;
        workgroupBarrier();
    }
    if i < params.level_len {
        scan[params.level + i] = block[li] - v;
    }
    // The last thread of each block within the level writes the block's total (the
    // grid may hold more blocks than the level, past its end).
    if li == WORKGROUP - 1u && (i / WORKGROUP) * WORKGROUP < params.level_len {
        scan[params.next + i / WORKGROUP] = block[li];
    }
}

// Adds each block's offset (the next level, already scanned) to its values.
@compute @workgroup_size(WORKGROUP)
fn scan_add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.level_len {
        return;
    }
    scan[params.level + i] += scan[params.next + i / WORKGROUP];
}

@compute @workgroup_size(WORKGROUP)
fn write_labels(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    let root = atomicLoad(&parent[i]);
    if root == NONE {
        dst[i] = 0.0;
        return;
    }
    let plane_start = i - i % (params.width * params.height * params.depth);
    dst[i] = f32(scan[root] - scan[plane_start] + 1u);
}

// The object a pixel belongs to, as an index into `sizes`: its root for a mask, its
// label value for labels (values past the pixel count share the last slot).
fn object(i: u32) -> u32 {
    if params.labels_mode == 1u {
        return min(u32(src[i]), params.samples);
    }
    return atomicLoad(&parent[i]);
}

fn foreground(i: u32) -> bool {
    if params.labels_mode == 1u {
        return src[i] != 0.0;
    }
    return atomicLoad(&parent[i]) != NONE;
}

@compute @workgroup_size(WORKGROUP)
fn count(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples || !foreground(i) {
        return;
    }
    atomicAdd(&sizes[object(i)], 1u);
}

@compute @workgroup_size(WORKGROUP)
fn keep(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    if !foreground(i) || atomicLoad(&sizes[object(i)]) < params.remove_below {
        dst[i] = 0.0;
        return;
    }
    dst[i] = select(255.0, src[i], params.labels_mode == 1u);
}
