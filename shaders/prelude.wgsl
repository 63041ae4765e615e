// Shared by every kernel family: src/shaders.rs prepends this file to each of them (and
// hashes it into each op's version). Functions only: no bindings, no entry points.

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

// 1-D kernels dispatch 2-D grids, because one dimension holds at most 65535 workgroups;
// `row_pitch` is the number of threads per grid row.
fn flat_index(gid: vec3<u32>, row_pitch: u32) -> u32 {
    return gid.y * row_pitch + gid.x;
}

// Kernels run on windows of an image: a tile and its halo, or (origin 0, full = n) the
// whole image. A tap at window position `i` along an axis reads the sample reflected at
// the whole image's edge, as the untiled computation does; a tap that falls outside the
// window but inside the image (only ever for outputs in the halo, which no result uses)
// is clamped to the window.
fn window_index(i: i32, origin: u32, full: u32, n: u32) -> u32 {
    let g = reflect(i + i32(origin), i32(full)) - i32(origin);
    return u32(clamp(g, 0, i32(n) - 1));
}
