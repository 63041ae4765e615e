// Sample-type conversion between the source's own samples and imflow's f32 planes.
// Twin: src/cpu/convert.rs. Host side: src/gpu/convert.rs (keep `Params` in sync; a test
// checks its size and the bindings against the host). WORKGROUP comes from the host.
//
// Sources travel to the GPU in their own type: u8/i8 four to a u32 word, u16/i16 two to
// a word, f32 one (32-bit integers and f64 are rounded to f32 on the host, which is as
// many bytes or fewer). `unpack` widens and de-interleaves them into planes (plane c
// holds channel c); `pack` interleaves and narrows planes back, rounding half to even
// and clamping, so a u8 mask downloads as 1/4 of the f32 bytes. Both buffers are
// declared u32 and f32 data is bitcast, so one module serves both directions.

struct Params {
    samples: u32,      // width * height * channels
    channels: u32,
    plane_len: u32,    // width * height
    sample_type: u32,  // 0 = u8, 1 = u16, 2 = f32, 3 = i8, 4 = i16
    row_pitch: u32,    // threads per row of the 2-D dispatch grid
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WORKGROUP: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn planar_index(i: u32) -> u32 {
    let c = params.channels;
    return (i % c) * params.plane_len + i / c;
}

@compute @workgroup_size(WORKGROUP)
fn unpack(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    var v: f32;
    switch params.sample_type {
        case 0u: {
            v = f32((src[i / 4u] >> ((i % 4u) * 8u)) & 0xffu);
        }
        case 1u: {
            v = f32((src[i / 2u] >> ((i % 2u) * 16u)) & 0xffffu);
        }
        case 3u: {
            // Shift the byte to the top, then arithmetically back: sign-extended.
            v = f32(bitcast<i32>(src[i / 4u] << (24u - (i % 4u) * 8u)) >> 24u);
        }
        case 4u: {
            v = f32(bitcast<i32>(src[i / 2u] << (16u - (i % 2u) * 16u)) >> 16u);
        }
        default: {
            v = bitcast<f32>(src[i]);
        }
    }
    dst[planar_index(i)] = bitcast<u32>(v);
}

// Round half to even (WGSL `round`), clamp; NaN becomes 0, as in the CPU twin.
fn narrow(v: f32, max_value: f32) -> u32 {
    if v != v {
        return 0u;
    }
    return u32(clamp(round(v), 0.0, max_value));
}

// The same for signed types, as two's-complement bits.
fn narrow_signed(v: f32, min_value: f32, max_value: f32) -> u32 {
    if v != v {
        return 0u;
    }
    return bitcast<u32>(i32(clamp(round(v), min_value, max_value)));
}

fn sample_at(i: u32) -> f32 {
    return bitcast<f32>(src[planar_index(i)]);
}

// One thread per output word, so no two threads write the same word.
@compute @workgroup_size(WORKGROUP)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = flat_index(gid, params.row_pitch);
    let n = params.samples;
    switch params.sample_type {
        case 0u: {
            if j >= (n + 3u) / 4u {
                return;
            }
            var word = 0u;
            for (var k = 0u; k < 4u; k++) {
                let i = j * 4u + k;
                if i < n {
                    word |= narrow(sample_at(i), 255.0) << (k * 8u);
                }
            }
            dst[j] = word;
        }
        case 1u: {
            if j >= (n + 1u) / 2u {
                return;
            }
            var word = narrow(sample_at(j * 2u), 65535.0);
            if j * 2u + 1u < n {
                word |= narrow(sample_at(j * 2u + 1u), 65535.0) << 16u;
            }
            dst[j] = word;
        }
        case 3u: {
            if j >= (n + 3u) / 4u {
                return;
            }
            var word = 0u;
            for (var k = 0u; k < 4u; k++) {
                let i = j * 4u + k;
                if i < n {
                    word |= (narrow_signed(sample_at(i), -128.0, 127.0) & 0xffu) << (k * 8u);
                }
            }
            dst[j] = word;
        }
        case 4u: {
            if j >= (n + 1u) / 2u {
                return;
            }
            var word = narrow_signed(sample_at(j * 2u), -32768.0, 32767.0) & 0xffffu;
            if j * 2u + 1u < n {
                word |= (narrow_signed(sample_at(j * 2u + 1u), -32768.0, 32767.0) & 0xffffu) << 16u;
            }
            dst[j] = word;
        }
        default: {
            if j >= n {
                return;
            }
            dst[j] = bitcast<u32>(sample_at(j));
        }
    }
}
