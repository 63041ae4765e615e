#!/usr/bin/env python3
"""Generate the golden data imflow's tests hold the kernels to.

Every expected output here comes from scipy.ndimage / scikit-image, the semantics
imflow promises (see DESIGN.md):
  gaussian  = scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate)
  box       = scipy.ndimage.uniform_filter(x, size, mode='reflect')
  otsu      = skimage.filters.threshold_otsu(x), mask = x > t

Integer inputs are filtered as float32 (x.astype(np.float32)): imflow computes in f32
and rounds once at the end, where scipy would truncate after every axis. The opt-in
`int=scipy` mode is scipy on the integer array itself (truncated after every axis pass);
those goldens hold the integer output, and the tests compare it bit for bit.

scipy's gaussian weights come from np.exp, which on CPUs with AVX-512 is Intel SVML's
and differs from the C library's exp in the last bit for some arguments. This script
turns numpy's AVX-512 dispatch off (NPY_DISABLE_CPU_FEATURES below) so that the goldens
are the same on every x86-64 machine. It changes none of the float goldens; with the
AVX-512 exp, one integer golden differs (2026-11-30, numpy 2.4.6): the plateau image
with sigma_y=0.5, where 88 of 5917 samples come out 4015 instead of 4016, a weighted sum
of a flat region landing on the other side of an integer.

Files: <id>.bin holds raw little-endian samples, interleaved; manifest.json says what
each is. Run from anywhere:  python3 tests/goldens/generate.py
Requirements: tests/goldens/requirements.txt
"""
import json
import os
import pathlib

os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL")

import numpy as np  # noqa: E402 (after the dispatch setting, which numpy reads at import)
import scipy
import scipy.ndimage as ndi
import skimage
import tifffile
from skimage.filters import threshold_otsu

HERE = pathlib.Path(__file__).resolve().parent
rng = np.random.default_rng(20261123)
inputs, cases = {}, []


def save(name, arr):
    arr = np.ascontiguousarray(arr)
    (HERE / f"{name}.bin").write_bytes(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
    return f"{name}.bin"


def add_input(name, arr):
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    inputs[name] = dict(file=save(name, arr), width=w, height=h, channels=c, dtype=DTYPES[str(arr.dtype)])
    return arr


DTYPES = dict(float32="f32", float64="f64", uint8="u8", uint16="u16", uint32="u32", int8="i8", int16="i16", int32="i32")


def per_channel(f, x):
    if x.ndim == 2:
        return f(x)
    return np.stack([f(x[..., c]) for c in range(x.shape[2])], axis=2)


def case(inp, x, spec, out=None, store=True):
    c = dict(input=inp, op=spec)
    if out is not None and store:
        c["output"] = save(f"{inp}__{spec.replace(':', '_').replace(',', '_').replace('=', '')}", out.astype(np.float32))
    cases.append(c)
    return c


def gaussian(x, sx, sy, truncate=4.0):
    xf = x.astype(np.float32)
    return per_channel(lambda p: ndi.gaussian_filter(p, (sy, sx), mode="reflect", truncate=truncate), xf)


def box(x, size):
    return per_channel(lambda p: ndi.uniform_filter(p, size, mode="reflect"), x.astype(np.float32))


def blobs(h, w, n, rng):
    """Nuclei-like u16 image: bright gaussian blobs on a dim background, Poisson noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w), 800.0)
    for _ in range(n):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 12)
        img += 9000.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return np.clip(rng.poisson(img), 0, 65535).astype(np.uint16)


SIZES = [(1, 1), (17, 1), (7, 33), (389, 517)]  # (height, width): 1x1, 1x17, 33x7, 517x389
for h, w in SIZES:
    big = h * w > 10000
    tag = f"{w}x{h}"
    xf = add_input(f"f32_{tag}", rng.uniform(-50.0, 1000.0, (h, w)).astype(np.float32))
    xu = add_input(f"u16_{tag}", blobs(h, w, max(1, h * w // 2000), rng))
    f32_sigmas = [1, 5, 30] if big else [0.5, 1, 2, 5, 30]
    f32_sizes = [3, 20] if big else [1, 3, 5, 20]
    for s in f32_sigmas:
        case(f"f32_{tag}", xf, f"gaussian:sigma={s},truncate=4", gaussian(xf, s, s))
    for z in f32_sizes:
        case(f"f32_{tag}", xf, f"box:size={z}", box(xf, z))
    for s in ([2] if big else [0.5, 2, 30]):
        case(f"u16_{tag}", xu, f"gaussian:sigma={s},truncate=4", gaussian(xu, s, s))
    for z in ([5] if big else [1, 5, 20]):
        case(f"u16_{tag}", xu, f"box:size={z}", box(xu, z))
    for inp, x in [(f"f32_{tag}", xf), (f"u16_{tag}", xu)]:
        t = threshold_otsu(x)
        c = case(inp, x, "threshold:method=otsu", ((x > t) * 255).astype(np.uint8), store=not big)
        c["threshold"] = float(t)

# Per-axis sigma and a non-default truncate.
x = inputs["f32_33x7"]
xf = np.frombuffer((HERE / x["file"]).read_bytes(), "<f4").reshape(7, 33)
case("f32_33x7", xf, "gaussian:sigma_x=2,sigma_y=0.5,truncate=3", gaussian(xf, 2, 0.5, 3.0))
case("f32_33x7", xf, "gaussian:sigma_x=1.5,sigma_y=0,truncate=4", gaussian(xf, 1.5, 0, 4.0))

# Otsu on integer data with a wide, sparse histogram: full-range uniform u16 (many empty
# bins, so exact ties between candidates), and on u8.
xw = add_input("u16wide_517x389", rng.integers(0, 65536, (389, 517), dtype=np.uint16))
case("u16wide_517x389", xw, "threshold:method=otsu")["threshold"] = float(threshold_otsu(xw))
x8 = add_input("u8_517x389", rng.integers(20, 230, (389, 517), dtype=np.uint8))
case("u8_517x389", x8, "threshold:method=otsu")["threshold"] = float(threshold_otsu(x8))

# Colour: filtered per channel, alpha included (RGB and RGBA, u8).
rgb = add_input("rgb8_33x7", rng.integers(0, 256, (7, 33, 3), dtype=np.uint8))
case("rgb8_33x7", rgb, "gaussian:sigma=1,truncate=4", gaussian(rgb, 1, 1))
rgba = add_input("rgba8_33x7", rng.integers(0, 256, (7, 33, 4), dtype=np.uint8))
case("rgba8_33x7", rgba, "box:size=3", box(rgba, 3))

# Chains: gaussian then Otsu on its float output (256 bins over [min, max]), the
# microscopy flow. The mask is stored for the 517x389 blobs image.
for inp in ["u16_517x389", "u16_33x7"]:
    meta = inputs[inp]
    xu = np.frombuffer((HERE / meta["file"]).read_bytes(), "<u2").reshape(meta["height"], meta["width"])
    g = gaussian(xu, 2, 2)
    t = threshold_otsu(g)
    cases.append(dict(input=inp, op="gaussian:sigma=2,truncate=4", then="threshold:method=otsu", threshold=float(t),
                      output=save(f"{inp}__gauss2_otsu_mask", ((g > t) * 255).astype(np.uint8))))

# The CLI acceptance image: a 16-bit nuclei TIFF, and what scipy + skimage make of it.
nuclei = blobs(256, 256, 40, rng)
tifffile.imwrite(HERE / "nuclei_u16.tif", nuclei)
g = gaussian(nuclei, 2, 2)
t = threshold_otsu(g)
save("nuclei_u16__gauss2_otsu_mask", ((g > t) * 255).astype(np.uint8))
apply_case = dict(file="nuclei_u16.tif", ops=["gaussian:sigma=2", "threshold:method=otsu"], threshold=float(t),
                  mask="nuclei_u16__gauss2_otsu_mask.bin", width=256, height=256)

# Sample types beyond u8/u16/f32: computed in f32 (i16 and u32 exactly as scipy on
# x.astype(float32); f64 rounded to f32 on the way in, compared against scipy on the
# f64 data itself, within the same 1e-4 of range).
rng2 = np.random.default_rng(20261130)  # a stream of its own: the goldens above stay put
xi = add_input("i16_97x61", (blobs(61, 97, 3, rng2).astype(np.int32) - 20000).astype(np.int16))
x32 = add_input("u32_97x61", blobs(61, 97, 3, rng2).astype(np.uint32) * 60000)
x64 = add_input("f64_97x61", rng2.normal(0.0, 1e-3, (61, 97)))
for inp, x in [("i16_97x61", xi), ("u32_97x61", x32)]:
    case(inp, x, "gaussian:sigma=2,truncate=4", gaussian(x, 2, 2))
    case(inp, x, "box:size=5", box(x, 5))
case("f64_97x61", x64, "gaussian:sigma=2,truncate=4", ndi.gaussian_filter(x64, 2))
case("f64_97x61", x64, "box:size=5", ndi.uniform_filter(x64, 5))
case("i16_97x61", xi, "threshold:method=otsu", ((xi > threshold_otsu(xi)) * 255).astype(np.uint8))["threshold"] = float(threshold_otsu(xi))

# scipy's integer mode (int=scipy): scipy on the integer array itself. The outputs are
# of the input's type, stored as such, and must match bit for bit.
def int_case(inp, x, spec, out, then=None):
    c = dict(input=inp, op=spec, output_dtype=DTYPES[str(out.dtype)])
    if then:
        c["then"] = then
    name = f"{inp}__{(spec + (then or '')).replace(':', '_').replace(',', '_').replace('=', '')}"
    c["output"] = save(name, out)
    cases.append(c)
    return c


x8 = add_input("u8_97x61", rng2.integers(0, 256, (61, 97), dtype=np.uint8))
xp = np.zeros((61, 97), np.uint16)  # plateaus: 0, 4000 and saturated, where truncation bites
xp[10:40, 20:80] = 4000
xp[25:30, :] = 65535
xp = add_input("u16plateau_97x61", xp)
xb = np.frombuffer((HERE / inputs["u16_517x389"]["file"]).read_bytes(), "<u2").reshape(389, 517)
for inp, x in [("u16_517x389", xb), ("u8_97x61", x8), ("i16_97x61", xi), ("u16plateau_97x61", xp)]:
    sigmas = [2] if inp == "u16_517x389" else [0.5, 1, 2, 3]
    for s in sigmas:
        int_case(inp, x, f"gaussian:sigma={s},truncate=4,int=scipy", ndi.gaussian_filter(x, s))
    int_case(inp, x, "gaussian:sigma_x=2,sigma_y=0.5,truncate=4,int=scipy", ndi.gaussian_filter(x, (0.5, 2)))
    for z in [3, 4, 7]:
        int_case(inp, x, f"box:size={z},int=scipy", ndi.uniform_filter(x, z))
# The microscopy flow as scipy + skimage run it on the raw u16 array: Otsu then bins
# per integer level of the truncated gaussian.
g = ndi.gaussian_filter(xb, 2)
t = threshold_otsu(g)
int_case("u16_517x389", xb, "gaussian:sigma=2,truncate=4,int=scipy", ((g > t) * 255).astype(np.uint8),
         then="threshold:method=otsu")["threshold"] = float(t)

manifest = dict(
    generator="tests/goldens/generate.py",
    versions=dict(numpy=np.__version__, scipy=scipy.__version__, skimage=skimage.__version__),
    numpy_disabled_cpu_features=os.environ["NPY_DISABLE_CPU_FEATURES"],
    inputs=inputs, cases=cases, apply=apply_case,
)
(HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
total = sum(p.stat().st_size for p in HERE.glob("*.bin"))
print(f"{len(inputs)} inputs, {len(cases)} cases, {total / 1e6:.1f} MB of .bin")
