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
