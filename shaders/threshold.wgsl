// Threshold (fixed and Otsu) into a 0/255 mask.
// Twin: src/cpu/threshold.rs. Host side: src/gpu/threshold.rs (keep `Params` and the
// `stats` layout in sync; a test checks the size of `Params`, the bindings and FLOAT_BINS
// against the host). WORKGROUP and SHARED_BINS are override constants the host sets.
//
// The host prepends `alias real = f64;` when the adapter has SHADER_F64, else
// `alias real = f32;`. Otsu must pick the very bin skimage picks, and near a flat
// maximum that is decided by rounding: skimage's class means are f64, and its f32 steps
// (products, edges, divisions) are reproduced here by computing in `real` and rounding
// to f32 where skimage rounds, which also keeps the compiler from fusing them.
//
// Otsu runs as four dispatches with no host readback:
//   min_max -> histogram_shared | histogram_global -> otsu_scan_integer | _float -> apply
// `stats` (atomic u32 words, zeroed by the host):
//   [0] max over samples of !key(x)  (so the zeroed word is neutral: min via max)
//   [1] max over samples of key(x)
//       (a tiled frame's histogram and scan get [0] and [1] of the whole frame from
//       the host instead, and skip min_max)
//   [2] the threshold (f32 bits), written by the scan
//   [3] the chosen bin

struct Params {
    samples: u32,
    row_pitch: u32,     // threads per row of the 2-D dispatch grid
    integer: u32,       // 1: one bin per integer level (untouched u8/u16); 0: FLOAT_BINS
    use_stats: u32,     // apply: 1 = threshold from stats[2], 0 = `value`
    value: f32,         // fixed threshold, already rounded down to f32 on the host
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;

override WORKGROUP: u32;     // threads per workgroup of every kernel here but the float scan
override SHARED_BINS: u32;   // bins histogram_shared gathers in workgroup memory
const FLOAT_BINS: u32 = 256u; // skimage's nbins for float data

// Order-preserving map from f32 to u32: comparisons of keys are comparisons of floats.
fn key(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn unkey(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

fn stat_min() -> f32 {
    return unkey(~atomicLoad(&stats[0]));
}

fn stat_max() -> f32 {
    return unkey(atomicLoad(&stats[1]));
}

// ---- fixed threshold, and the last step of Otsu -------------------------------------

@compute @workgroup_size(WORKGROUP)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, params.row_pitch);
    if i >= params.samples {
        return;
    }
    var t = params.value;
    if params.use_stats == 1u {
        t = bitcast<f32>(atomicLoad(&stats[2]));
    }
    dst[i] = select(0.0, 255.0, src[i] > t);
}

// ---- min / max ----------------------------------------------------------------------

var<workgroup> wg_min_inv: atomic<u32>;
var<workgroup> wg_max: atomic<u32>;

@compute @workgroup_size(WORKGROUP)
fn min_max(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = flat_index(gid, params.row_pitch);
    if i < params.samples {
        let x = src[i];
        if x == x { // NaNs are ignored, as in the CPU twin
            let k = key(x);
            atomicMax(&wg_min_inv, ~k);
            atomicMax(&wg_max, k);
        }
    }
    workgroupBarrier();
    if li == 0u {
        atomicMax(&stats[0], atomicLoad(&wg_min_inv));
        atomicMax(&stats[1], atomicLoad(&wg_max));
    }
}

// ---- histogram ----------------------------------------------------------------------

fn bin_count() -> u32 {
    if params.integer == 1u {
        return u32(stat_max() - stat_min()) + 1u;
    }
    return FLOAT_BINS;
}

// numpy's float32 linspace edge, as NumPy 2 computes it: fl(fl(i * step) + first).
fn edge(i: u32, first: f32, last: f32) -> f32 {
    if i == FLOAT_BINS {
        return last;
    }
    let step = (last - first) / f32(FLOAT_BINS); // exact: a power-of-two division
    let p = f32(real(f32(i)) * real(step));
    return f32(real(p) + real(first));
}

// The bin of one sample: numpy's f32 estimate, then corrected against the edges.
fn bin_of(x: f32) -> u32 {
    let lo = stat_min();
    if params.integer == 1u {
        return u32(x - lo); // exact: integer levels, fewer than 2^24 apart
    }
    let hi = stat_max();
    let q = f32(real(x - lo) / real(hi - lo)) * f32(FLOAT_BINS);
    var b = min(u32(q), FLOAT_BINS - 1u);
    if x < edge(b, lo, hi) && b > 0u {
        b -= 1u;
    }
    if x >= edge(b + 1u, lo, hi) && b != FLOAT_BINS - 1u {
        b += 1u;
    }
    return b;
}

var<workgroup> wg_bins: array<atomic<u32>, SHARED_BINS>;
var<workgroup> wg_nbins: u32;

// Few bins (float data, u8, narrow u16 ranges): counts gather in workgroup memory and
// reach global memory once per workgroup and bin. Grid-stride over the samples.
@compute @workgroup_size(WORKGROUP)
fn histogram_shared(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(local_invocation_index) li: u32,
                    @builtin(num_workgroups) nwg: vec3<u32>) {
    if li == 0u {
        wg_nbins = bin_count();
    }
    let nbins = workgroupUniformLoad(&wg_nbins);
    if nbins > SHARED_BINS {
        return; // histogram_global's case
    }
    for (var b = li; b < nbins; b += WORKGROUP) {
        atomicStore(&wg_bins[b], 0u);
    }
    workgroupBarrier();
    let stride = nwg.x * WORKGROUP;
    for (var i = gid.x; i < params.samples; i += stride) {
        let x = src[i];
        if x == x {
            atomicAdd(&wg_bins[bin_of(x)], 1u);
        }
    }
    workgroupBarrier();
    for (var b = li; b < nbins; b += WORKGROUP) {
        let c = atomicLoad(&wg_bins[b]);
        if c != 0u {
            atomicAdd(&hist[b], c);
        }
    }
}

// Many bins (wide u16 ranges, up to 65536): straight to global atomics, which spread
// over so many addresses that they rarely contend.
@compute @workgroup_size(WORKGROUP)
fn histogram_global(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>) {
    if bin_count() <= SHARED_BINS {
        return;
    }
    let stride = nwg.x * WORKGROUP;
    for (var i = gid.x; i < params.samples; i += stride) {
        let x = src[i];
        if x == x {
            atomicAdd(&hist[bin_of(x)], 1u);
        }
    }
}

// ---- the Otsu scan ------------------------------------------------------------------

fn write_threshold(t: f32, bin: u32) {
    atomicStore(&stats[2], bitcast<u32>(t));
    atomicStore(&stats[3], bin);
}

var<workgroup> part_w: array<u32, WORKGROUP>;
var<workgroup> part_s: array<real, WORKGROUP>;
var<workgroup> best_v: array<real, WORKGROUP>;
var<workgroup> best_k: array<u32, WORKGROUP>;
var<workgroup> wg_scan: vec2<u32>; // (bins, 1 if the image is constant)
var<workgroup> total_w: u32;       // samples counted
var<workgroup> total_s: real;      // their sum

// Integer levels: each of the WORKGROUP threads owns a run of bins. Class weights are exact u32
// prefix sums (skimage rounds them to f32, as done below); class sums are exact in f64.
@compute @workgroup_size(WORKGROUP)
fn otsu_scan_integer(@builtin(local_invocation_index) li: u32) {
    if li == 0u {
        let lo = stat_min();
        let hi = stat_max();
        wg_scan = vec2<u32>(u32(hi - lo) + 1u, select(0u, 1u, lo == hi));
    }
    let scan = workgroupUniformLoad(&wg_scan);
    let lo = stat_min();
    if scan.y == 1u {
        if li == 0u {
            write_threshold(lo, 0u); // one value: skimage returns it
        }
        return;
    }
    let nbins = scan.x;
    let chunk = (nbins + WORKGROUP - 1u) / WORKGROUP;
    let k0 = min(li * chunk, nbins);
    let k1 = min(k0 + chunk, nbins);
    var w = 0u;
    var s = real(0.0);
    for (var k = k0; k < k1; k++) {
        let c = atomicLoad(&hist[k]);
        w += c;
        s += real(c) * real(lo + f32(k));
    }
    part_w[li] = w;
    part_s[li] = s;
    workgroupBarrier();
    if li == 0u {
        // Exclusive prefix over the runs, and the totals.
        var pw = 0u;
        var ps = real(0.0);
        for (var t = 0u; t < WORKGROUP; t++) {
            let cw = part_w[t];
            let cs = part_s[t];
            part_w[t] = pw;
            part_s[t] = ps;
            pw += cw;
            ps += cs;
        }
        total_w = pw;
        total_s = ps;
    }
    workgroupBarrier();
    let n = total_w;
    let total = total_s;
    var w1 = part_w[li];
    var s1 = part_s[li];
    var bv = real(-1.0);
    var bk = 0u;
    for (var k = k0; k < min(k1, nbins - 1u); k++) {
        let c = atomicLoad(&hist[k]);
        w1 += c;
        s1 += real(c) * real(lo + f32(k));
        let w1f = f32(w1);
        let w2f = f32(n - w1);
        let p = f32(real(w1f) * real(w2f)); // skimage: weight1 * weight2 in f32
        let d = s1 / real(w1f) - (total - s1) / real(w2f);
        let v = real(p) * (d * d);
        if v > bv {
            bv = v;
            bk = k;
        }
    }
    best_v[li] = bv;
    best_k[li] = bk;
    workgroupBarrier();
    if li == 0u {
        // Runs are in bin order, so keeping the first strict maximum keeps numpy's
        // argmax (the lowest bin among equals).
        var v = best_v[0];
        var k = best_k[0];
        for (var t = 1u; t < WORKGROUP; t++) {
            if best_v[t] > v {
                v = best_v[t];
                k = best_k[t];
            }
        }
        write_threshold(lo + f32(k), k);
    }
}

fn div32(a: f32, b: f32) -> f32 {
    return f32(real(a) / real(b));
}

fn mul32(a: f32, b: f32) -> f32 {
    return f32(real(a) * real(b));
}

// Float data: 256 bins, one thread, replaying skimage's all-f32 scan in its order.
@compute @workgroup_size(1)
fn otsu_scan_float() {
    let lo = stat_min();
    let hi = stat_max();
    if lo == hi {
        write_threshold(lo, 0u);
        return;
    }
    var w2: array<f32, FLOAT_BINS>;
    var s2: array<f32, FLOAT_BINS>;
    var cw = 0.0;
    var cs = 0.0;
    for (var k = i32(FLOAT_BINS) - 1; k >= 0; k--) {
        let ku = u32(k);
        let c = f32(atomicLoad(&hist[ku]));
        let center = (edge(ku, lo, hi) + edge(ku + 1u, lo, hi)) / 2.0;
        cw += c;
        cs += mul32(c, center);
        w2[ku] = cw;
        s2[ku] = cs;
    }
    var w1 = 0.0;
    var s1 = 0.0;
    var bv = -1.0;
    var bk = 0u;
    for (var k = 0u; k < FLOAT_BINS - 1u; k++) {
        let c = f32(atomicLoad(&hist[k]));
        let center = (edge(k, lo, hi) + edge(k + 1u, lo, hi)) / 2.0;
        w1 += c;
        s1 += mul32(c, center);
        let d = div32(s1, w1) - div32(s2[k + 1u], w2[k + 1u]);
        let v = mul32(mul32(w1, w2[k + 1u]), mul32(d, d));
        if v > bv {
            bv = v;
            bk = k;
        }
    }
    write_threshold((edge(bk, lo, hi) + edge(bk + 1u, lo, hi)) / 2.0, bk);
}
