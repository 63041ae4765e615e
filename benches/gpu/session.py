#!/usr/bin/env python3
"""imflow on a real GPU against CuPy and the host's Python stack, in one run.

    benches/gpu/run.sh            # on a lent machine (see BENCHMARKS.md, "GPU session")
    benches/gpu/run.sh --small    # the dry run: tiny sizes, any adapter (llvmpipe here)

run.sh unpacks what benches/gpu/pack.sh gathered (.gpu/: release binaries, the abi3
wheel, the Vulkan loader) and calls this driver. It needs no Rust toolchain: imflow's
side runs through the `imflow` binary and `kernel_timing` (examples/kernel_timing.rs),
each a subprocess with its own device, so CuPy's CUDA context and imflow's Vulkan device
never share a process.

What it measures, each part a markdown table (printed, and written under --out):

1. Kernels on resident images: imflow's kernel time from GPU timestamps (best of N) and
   its submit+wait wall time; CuPy's same call timed with CUDA events; OpenCV (every
   core) and scipy (one thread) on the host where sensible. GiB/s counts 8 bytes per
   element (one f32 read and one f32 write: the least any of these ops moves, as imflow
   holds images as f32 planes), against the adapter's nominal peak.
2. A resident chain (gaussian -> box -> Otsu -> label) vs the same ops with a round trip
   to the host between them, for imflow and CuPy, and scipy on the host.
3. The flow: N u16 TIFFs through gaussian -> Otsu -> label -> measure (a CSV per file):
   `imflow run` cold (fresh store) and fully cached, the imflow Python package per file,
   the same flow in CuPy, and in scipy + scikit-image on a process per core.

A peer that is missing (cupy, cv2, scipy, skimage, the imflow package) or switched off
with --without gives `absent` cells; nothing else changes. An op this build of imflow
lacks (median, morphology, distance, watershed: probed at the start) is listed as not
in this build. With IMFLOW_REQUIRE_GPU=1 a run that finds no GPU adapter fails, as the
test suites do; without it the imflow GPU cells are `absent`.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import json
import multiprocessing
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
ABSENT = "absent"
T0 = time.perf_counter()

# Nominal memory bandwidth by adapter name (vendor data sheets), bytes/s. The first
# entry whose key the name contains wins, so the specific names come first.
PEAKS: List[Tuple[str, float, str]] = [
    ("H200", 4.8e12, "H200: 4.8 TB/s HBM3e"),
    ("H100 NVL", 3.9e12, "H100 NVL: 3.9 TB/s HBM3"),
    ("H100 PCIe", 2.0e12, "H100 PCIe: 2.0 TB/s HBM2e"),
    ("H100", 3.35e12, "H100 SXM5 80GB: 3.35 TB/s HBM3"),
    ("A100-SXM4-80GB", 2.039e12, "A100 SXM4 80GB: 2.039 TB/s"),
    ("A100", 1.555e12, "A100 40GB: 1.555 TB/s"),
]
BYTES_PER_ELEMENT = 8  # one f32 read + one f32 write
GIB = float(1 << 30)


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ---- configuration ---------------------------------------------------------------------

class Config:
    def __init__(self, small: bool) -> None:
        self.small = small
        if small:
            self.sizes: List[str] = ["64", "128", "8x32x32"]
            self.reps_gpu = {"64": 3, "128": 3, "8x32x32": 3}
            self.reps_peer = 3
            self.scipy_sizes = {"64", "128", "8x32x32"}
            self.chain_sizes = ["64", "128"]
            self.flow_files, self.flow_side = 4, 128
            self.flow_reps = 2
        else:
            self.sizes = ["2048", "4096", "8192", "128x1024x1024"]
            self.reps_gpu = {"2048": 20, "4096": 10, "8192": 5, "128x1024x1024": 5}
            self.reps_peer = 5
            # scipy is single-threaded: one pass at 8192² costs seconds per op; the
            # volume's 3-D gaussians would cost minutes, so it stops at 8192².
            self.scipy_sizes = {"2048", "4096", "8192"}
            self.chain_sizes = ["2048", "4096", "8192"]
            self.flow_files, self.flow_side = 64, 2048
            self.flow_reps = 2

    def scipy_reps(self, size: str) -> int:
        return 1 if size in ("8192", "4096") and not self.small else 2


def shape_of(size: str) -> Tuple[int, ...]:
    dims = tuple(int(v) for v in size.split("x"))
    return (dims[0], dims[0]) if len(dims) == 1 else dims


def size_label(size: str) -> str:
    return f"{size}²" if "x" not in size else size


# Kernels: (label, imflow spec candidates, input, peer key). The first spec a build
# accepts is timed; `optional` ops are probed and listed as absent from older builds.
KERNELS: List[Dict[str, Any]] = [
    {"name": "gaussian σ1", "specs": ["gaussian:sigma=1"], "input": "f32", "peer": ("gaussian", 1.0)},
    {"name": "gaussian σ2", "specs": ["gaussian:sigma=2"], "input": "f32", "peer": ("gaussian", 2.0)},
    {"name": "gaussian σ5", "specs": ["gaussian:sigma=5"], "input": "f32", "peer": ("gaussian", 5.0)},
    {"name": "box 5", "specs": ["box:size=5"], "input": "f32", "peer": ("box", 5)},
    {"name": "Otsu", "specs": ["threshold:method=otsu"], "input": "f32", "peer": ("otsu", None)},
    {"name": "label (faces)", "specs": ["label:connectivity=1"], "input": "mask", "peer": ("label", None)},
    {"name": "median 3", "specs": ["median:size=3"], "input": "f32", "peer": ("median", 3), "optional": True},
    {"name": "erosion 3", "specs": ["erosion:size=3", "erode:size=3", "grey_erosion:size=3"], "input": "f32",
     "peer": ("erosion", 3), "optional": True},
    {"name": "dilation 3", "specs": ["dilation:size=3", "dilate:size=3", "grey_dilation:size=3"], "input": "f32",
     "peer": ("dilation", 3), "optional": True},
    {"name": "distance (EDT)", "specs": ["distance", "distance_transform_edt", "edt"], "input": "mask",
     "peer": ("edt", None), "optional": True},
    {"name": "watershed", "specs": ["watershed"], "input": "f32", "peer": ("watershed", None), "optional": True},
]
CHAIN = ["gaussian:sigma=2", "box:size=5", "threshold:method=otsu", "label:connectivity=1"]


# ---- peers -----------------------------------------------------------------------------

class Peers:
    """The optional modules, each None when missing or switched off."""

    def __init__(self, without: Sequence[str]) -> None:
        self.notes: Dict[str, str] = {}
        self.cp: Any = self._load("cupy", without)
        self.cndi: Any = None
        if self.cp is not None:
            try:
                if self.cp.cuda.runtime.getDeviceCount() < 1:
                    raise RuntimeError("no CUDA device")
                self.cndi = importlib.import_module("cupyx.scipy.ndimage")
            except Exception as e:  # no driver, no device: CuPy cannot run here
                self.notes["cupy"] = f"absent ({type(e).__name__}: {e})"
                self.cp = None
        self.cv2: Any = self._load("cv2", without)
        self.ndi: Any = self._load("scipy.ndimage", without, key="scipy")
        self.skf: Any = self._load("skimage.filters", without, key="skimage")
        self.skm: Any = self._load("skimage.measure", without, key="skimage") if self.skf is not None else None
        self.tifffile: Any = self._load("tifffile", without)
        self.imflow: Any = self._load("imflow", without)

    def _load(self, module: str, without: Sequence[str], key: Optional[str] = None) -> Any:
        key = key or module
        if key in without:
            self.notes[key] = "absent (--without)"
            return None
        try:
            m = importlib.import_module(module)
        except Exception as e:
            self.notes[key] = f"absent ({type(e).__name__}: {e})"
            return None
        top = importlib.import_module(module.split(".")[0])
        self.notes.setdefault(key, f"{top.__name__} {getattr(top, '__version__', '?')}")
        return m

    def otsu_host(self, x: np.ndarray) -> float:
        return float(self.skf.threshold_otsu(x))

    def otsu_from_hist(self, counts: np.ndarray, centers: np.ndarray) -> float:
        """skimage's threshold_otsu on a histogram (its `hist=` argument)."""
        return float(self.skf.threshold_otsu(hist=(counts, centers)))

    def cupy_otsu(self, x: Any) -> Any:
        """skimage's Otsu on a CuPy histogram: 256 bins over [min, max] as skimage bins
        float data, counted on the GPU; only the 256 counts come to the host."""
        cp = self.cp
        lo, hi = float(x.min()), float(x.max())
        counts, edges = cp.histogram(x, bins=256, range=(lo, hi))
        centers = (edges[:-1] + edges[1:]) / 2
        return x > self.otsu_from_hist(cp.asnumpy(counts), cp.asnumpy(centers))

    def cupy_call(self, peer: Tuple[str, Any]) -> Optional[Callable[[Any], Any]]:
        if self.cp is None:
            return None
        kind, p = peer
        c = self.cndi
        if kind == "gaussian":
            return lambda x: c.gaussian_filter(x, p, mode="reflect", truncate=4.0)
        if kind == "box":
            return lambda x: c.uniform_filter(x, p, mode="reflect")
        if kind == "otsu":
            return self.cupy_otsu if self.skf is not None else None
        if kind == "label":
            return lambda m: c.label(m)[0]
        if kind == "median":
            return lambda x: c.median_filter(x, p, mode="reflect")
        if kind == "erosion":
            return lambda x: c.grey_erosion(x, size=p, mode="reflect")
        if kind == "dilation":
            return lambda x: c.grey_dilation(x, size=p, mode="reflect")
        if kind == "edt" and hasattr(c, "distance_transform_edt"):
            return lambda m: c.distance_transform_edt(m)
        return None

    def scipy_call(self, peer: Tuple[str, Any]) -> Optional[Callable[[Any], Any]]:
        if self.ndi is None:
            return None
        kind, p = peer
        n = self.ndi
        if kind == "gaussian":
            return lambda x: n.gaussian_filter(x, p, mode="reflect", truncate=4.0)
        if kind == "box":
            return lambda x: n.uniform_filter(x, p, mode="reflect")
        if kind == "otsu":
            return (lambda x: x > self.otsu_host(x)) if self.skf is not None else None
        if kind == "label":
            return lambda m: n.label(m)[0]
        if kind == "median":
            return lambda x: n.median_filter(x, p, mode="reflect")
        if kind == "erosion":
            return lambda x: n.grey_erosion(x, size=p, mode="reflect")
        if kind == "dilation":
            return lambda x: n.grey_dilation(x, size=p, mode="reflect")
        if kind == "edt":
            return lambda m: n.distance_transform_edt(m)
        return None

    def cv2_call(self, peer: Tuple[str, Any], ndim: int) -> Optional[Callable[[Any], Any]]:
        if self.cv2 is None or ndim != 2:
            return None
        kind, p = peer
        cv2 = self.cv2
        if kind == "gaussian":
            k = 2 * int(4.0 * p + 0.5) + 1  # scipy's radius at truncate=4
            return lambda x: cv2.GaussianBlur(x, (k, k), p, borderType=cv2.BORDER_REFLECT)
        if kind == "box":
            return lambda x: cv2.blur(x, (p, p), borderType=cv2.BORDER_REFLECT)
        return None


def host_best(f: Callable[[], Any], reps: int, warm: bool = True) -> Tuple[float, float]:
    if warm:
        f()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t), statistics.median(t)


def cuda_best(cp: Any, f: Callable[[], Any], reps: int) -> Tuple[float, float]:
    """Best and median of `reps` calls, each timed by CUDA events on the current stream
    (host work inside the call, such as a synchronising readback, counts too)."""
    f()  # warm-up: kernels compiled (NVRTC), memory pool filled
    cp.cuda.Device().synchronize()
    t = []
    for _ in range(reps):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        f()
        end.record()
        end.synchronize()
        t.append(cp.cuda.get_elapsed_time(start, end))
    return min(t), statistics.median(t)


def host_input(shape: Tuple[int, ...], kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "mask":
        return rng.random(shape, dtype=np.float32) < 0.5
    return rng.random(shape, dtype=np.float32)


# ---- imflow through its binaries ------------------------------------------------------

class Imflow:
    def __init__(self, imflow_bin: pathlib.Path, timing_bin: pathlib.Path, env: Dict[str, str]) -> None:
        self.bin, self.timing, self.env = imflow_bin, timing_bin, env

    def adapters(self) -> List[Dict[str, Any]]:
        r = subprocess.run([str(self.bin), "info", "--json"], capture_output=True, text=True, env=self.env,
                           timeout=120)
        try:
            return list(json.loads(r.stdout or "[]"))
        except json.JSONDecodeError:
            return []

    def time(self, entries: Sequence[str], size: str, backend: str, reps: int,
             timeout: float = 300) -> List[Dict[str, Any]]:
        """One kernel_timing process for several entries (`spec@input`), one JSON each."""
        cmd = [str(self.timing), ";".join(entries), size, "f32", backend, str(reps)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [{"spec": e.split("@")[0], "error": f"timed out after {timeout:.0f} s"} for e in entries]
        out = []
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        if len(out) < len(entries):
            why = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
            seen = {o.get("spec") for o in out}
            out += [{"spec": e.split("@")[0], "error": why} for e in entries if e.split("@")[0] not in seen]
        return out


def find_bins(bin_dir: Optional[str]) -> Tuple[pathlib.Path, pathlib.Path]:
    dirs = ([pathlib.Path(bin_dir)] if bin_dir else []) + [ROOT / ".gpu/bin", ROOT / "target/release",
                                                          ROOT / "target/debug"]
    imflow_bin = next((d / "imflow" for d in dirs if (d / "imflow").is_file()), None)
    timing = next((p for d in dirs for p in (d / "kernel_timing", d / "examples/kernel_timing") if p.is_file()),
                  None)
    if imflow_bin is None or timing is None:
        sys.exit(f"session: no imflow or kernel_timing binary in {', '.join(map(str, dirs))}: "
                 "run benches/gpu/pack.sh, or `cargo build --bin imflow --example kernel_timing`")
    return imflow_bin, timing


# ---- formatting ------------------------------------------------------------------------

def ms(v: Optional[float]) -> str:
    if v is None:
        return ABSENT
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def ratio(num: Optional[float], den: Optional[float]) -> str:
    if num is None or den is None or den <= 0:
        return ABSENT
    return f"{num / den:.2f}x"


def gibs(elements: int, t_ms: Optional[float]) -> Optional[float]:
    if t_ms is None or t_ms <= 0:
        return None
    return elements * BYTES_PER_ELEMENT / GIB / (t_ms / 1e3)


def rate(v: Optional[float]) -> str:
    if v is None:
        return ABSENT
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.3f}"


def table(title: str, head: List[str], rows: List[List[str]], notes: Sequence[str] = ()) -> str:
    align = ["---" if i < 2 else "---:" for i in range(len(head))]
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---- the session -----------------------------------------------------------------------

class Session:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cfg = Config(args.small)
        self.out = pathlib.Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.peers = Peers([w.strip() for w in args.without.split(",") if w.strip()])
        imflow_bin, timing = find_bins(args.bin_dir)
        env = dict(os.environ)
        env.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
        self.imflow = Imflow(imflow_bin, timing, env)
        self.records: Dict[str, Any] = {"kernels": [], "chain": [], "flow": []}
        self.sections: List[str] = []
        self.timings: Dict[str, float] = {}
        self.env_notes: List[str] = []
        self.deadline = T0 + args.budget_s if args.budget_s else None

    def over_budget(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def timeout(self) -> float:
        """For one subprocess: what is left of the budget and a minute, so a hang ends
        the part it hangs in, not the whole session."""
        if self.deadline is None:
            return 600.0
        return max(60.0, self.deadline - time.perf_counter() + 60.0)

    @staticmethod
    def attempt(what: str, notes: List[str], f: Callable[[], Any]) -> Any:
        """A peer's call that fails (an NVRTC compile, memory, an API this version
        lacks) costs its cells, not the session: they say absent and a note says why."""
        try:
            return f()
        except Exception as e:
            why = f"{what}: {type(e).__name__}: {e}".replace("\n", " ")[:300]
            log(why)
            notes.append(why)
            return None

    def emit(self, text: str) -> None:
        print(text, flush=True)
        self.sections.append(text)
        (self.out / "gpu_session.md").write_text("\n".join(self.sections))

    # -- environment --
    def environment(self) -> None:
        adapters = self.imflow.adapters()
        self.adapter = adapters[0] if adapters else None
        if self.adapter is None and os.environ.get("IMFLOW_REQUIRE_GPU") == "1":
            sys.exit("session: IMFLOW_REQUIRE_GPU=1 but imflow finds no GPU adapter (see run.sh: the Vulkan "
                     "loader and VK_DRIVER_FILES)")
        name = self.adapter["name"] if self.adapter else None
        self.software = bool(self.adapter and self.adapter.get("device_type") == "Cpu")
        if self.software and not self.cfg.small and os.environ.get("IMFLOW_REQUIRE_GPU") == "1":
            # Full sizes on llvmpipe would spend the lease on CPU figures (and outgrow its
            # 128 MiB bindings): stop at once, so the call can be fixed and rerun.
            sys.exit(f"session: IMFLOW_REQUIRE_GPU=1 but the best adapter is a software one, {name} (see "
                     "run.sh: VK_DRIVER_FILES)")
        self.peak, self.peak_source = None, "unknown"
        if self.args.peak_gbs:
            self.peak, self.peak_source = self.args.peak_gbs * 1e9, f"--peak-gbs {self.args.peak_gbs}"
        elif name:
            for key, bw, what in PEAKS:
                if key.lower() in name.lower():
                    self.peak, self.peak_source = bw, f"nominal, {what}"
                    break
        copy_cupy = self.attempt("CuPy device copy", self.env_notes, self.cupy_copy_bandwidth)
        copy_host = self.host_copy_bandwidth()
        if self.peak is None and self.software:
            # llvmpipe runs the kernels on the CPU: its ceiling is the host's memory.
            self.peak, self.peak_source = copy_host, "measured host copy (a software adapter runs on the CPU)"
        nvsmi = shutil.which("nvidia-smi")
        gpu_line = None
        if nvsmi:
            r = subprocess.run([nvsmi, "--query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem",
                                "--format=csv,noheader"], capture_output=True, text=True)
            gpu_line = r.stdout.strip() or None
        lines = [
            f"# imflow GPU session: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            + (" (dry run, --small)" if self.cfg.small else ""),
            "",
            f"- adapter: {name or 'none'}" + (f" ({self.adapter['device_type']}, {self.adapter['backend']}, "
                                                f"driver {self.adapter['driver']})" if self.adapter else ""),
            f"- nvidia-smi: {gpu_line or 'absent'}",
            f"- peak memory bandwidth used for %: {self.fmt_bw(self.peak)} ({self.peak_source}); "
            f"CuPy device copy measured: {self.fmt_bw(copy_cupy)}; host copy measured: {self.fmt_bw(copy_host)}",
            f"- host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}",
            "- peers: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.peers.notes.items())),
            f"- binaries: {self.imflow.bin}, {self.imflow.timing}",
        ] + [f"- {n}" for n in self.env_notes]
        if self.software and not self.cfg.small:
            lines.append("- WARNING: the adapter is a software one; these are not a GPU's figures")
        self.records["environment"] = {"adapter": self.adapter, "nvidia_smi": gpu_line, "peak_bytes_s": self.peak,
                                       "peak_source": self.peak_source, "cupy_copy_bytes_s": copy_cupy,
                                       "host_copy_bytes_s": copy_host, "peers": self.peers.notes}
        self.emit("\n".join(lines) + "\n")

    @staticmethod
    def fmt_bw(b: Optional[float]) -> str:
        return ABSENT if b is None else f"{b / 1e9:.0f} GB/s = {b / GIB:.0f} GiB/s"

    def cupy_copy_bandwidth(self) -> Optional[float]:
        cp = self.peers.cp
        if cp is None:
            return None
        n = (64 << 20) if not self.cfg.small else (1 << 20)
        a = cp.ones(n, dtype=cp.float32)
        b = cp.empty_like(a)
        best, _ = cuda_best(cp, lambda: b.__setitem__(slice(None), a), 10)
        return 2 * a.nbytes / (best / 1e3)  # read + write, as the 8 bytes per element

    def host_copy_bandwidth(self) -> float:
        a = np.ones(32 << 20 if not self.cfg.small else 4 << 20, dtype=np.float32)
        b = np.empty_like(a)
        best, _ = host_best(lambda: np.copyto(b, a), 5)
        return 2 * a.nbytes / (best / 1e3)

    # -- kernels --
    def probe_ops(self) -> None:
        """Which spec of each kernel this build accepts (an op missing is an error)."""
        entries = [f"{s}@{k['input']}" for k in KERNELS for s in k["specs"]]
        got = {r["spec"]: r for r in self.imflow.time(entries, "16", "cpu", 1, timeout=120)}
        self.kernels = []
        self.missing = []
        for k in KERNELS:
            ok = [s for s in k["specs"] if s in got and "error" not in got[s]]
            if ok:
                self.kernels.append(dict(k, spec=ok[0]))
            elif k.get("optional"):
                self.missing.append(k["name"])
            else:
                why = next((got[s]["error"] for s in k["specs"] if s in got), "no output")
                sys.exit(f"session: {k['name']} ({k['specs'][0]}) fails on this build: {why}")

    def kernels_section(self) -> None:
        cfg, peers = self.cfg, self.peers
        rows: List[List[str]] = []
        notes: List[str] = []
        for size in cfg.sizes:
            shape = shape_of(size)
            if self.over_budget():
                notes.append(f"{size_label(size)}: skipped, past the time budget")
                continue
            gpu: Dict[str, Dict[str, Any]] = {}
            if self.adapter is not None:
                entries = [f"{k['spec']}@{k['input']}" for k in self.kernels]
                log(f"imflow kernels at {size}")
                for r in self.imflow.time(entries, size, "gpu", cfg.reps_gpu[size], self.timeout()):
                    gpu[r["spec"]] = r
            inputs: Dict[str, np.ndarray] = {}
            dev: Dict[str, Any] = {}
            for k in self.kernels:
                if k["input"] not in inputs:
                    inputs[k["input"]] = host_input(shape, k["input"])
                x = inputs[k["input"]]
                rec: Dict[str, Any] = {"op": k["name"], "spec": k["spec"], "size": size, "elements": x.size}
                g = gpu.get(k["spec"], {})
                if "error" in g:
                    notes.append(f"imflow {k['name']} at {size_label(size)}: {g['error']}")
                rec["imflow_kernel_ms"] = g.get("gpu_kernel_ms")
                rec["imflow_wall_ms"] = g.get("best_ms")
                rec["imflow_dispatches"] = g.get("dispatches")
                # CuPy on the same data, resident on the GPU.
                f = peers.cupy_call(k["peer"])
                if f is not None:
                    cp = peers.cp
                    if k["input"] not in dev:
                        dev[k["input"]] = cp.asarray(x)
                    xd = dev[k["input"]]
                    log(f"cupy {k['name']} at {size}")
                    rec["cupy_ms"] = self.attempt(f"CuPy {k['name']} at {size_label(size)}", notes,
                                                  lambda: cuda_best(cp, lambda: f(xd), cfg.reps_gpu[size])[0])
                h = peers.cv2_call(k["peer"], len(shape))
                if h is not None:
                    rec["cv2_ms"] = self.attempt(f"cv2 {k['name']} at {size_label(size)}", notes,
                                                 lambda: host_best(lambda: h(x), cfg.reps_peer)[0])
                s = peers.scipy_call(k["peer"])
                if s is not None and size in cfg.scipy_sizes:
                    log(f"scipy {k['name']} at {size}")
                    rec["scipy_ms"] = self.attempt(
                        f"scipy {k['name']} at {size_label(size)}", notes,
                        lambda: host_best(lambda: s(x), cfg.scipy_reps(size), warm=cfg.small)[0])
                self.records["kernels"].append(rec)
                rows.append(self.kernel_row(rec))
            dev.clear()
            if peers.cp is not None:
                peers.cp.get_default_memory_pool().free_all_blocks()
        cv2_what = f"OpenCV on the host, {peers.cv2.getNumThreads()} threads" if peers.cv2 is not None else ABSENT
        notes += [
            "imflow kernel: GPU timestamps around every compute pass of the call (best of N); submit+wait: "
            "wall time of the call on a resident image, host overhead included. CuPy: CUDA events around "
            "the call on a resident array (Otsu's min, max and 256 counts come to the host, as imflow's "
            "threshold comes back).",
            f"GiB/s: {BYTES_PER_ELEMENT} bytes per element (one f32 read, one f32 write) over the kernel "
            f"time; % of peak against {self.fmt_bw(self.peak)} ({self.peak_source}).",
            "CuPy / imflow and scipy / imflow: the peer's time over imflow's kernel time (> 1: imflow faster).",
            f"cv2: {cv2_what}; scipy: scipy.ndimage (+ skimage's threshold_otsu), "
            "one thread, "
            + ("best of 2 after a warm-up." if cfg.small else "best of 2 at 2048², one pass at 4096² and 8192², "
               "not run on the volume (minutes of one core)."),
            "Inputs: uniform f32 noise (imflow's drawn in Rust, the peers' by numpy: the same distribution); "
            "label (and distance) a random mask of density 0.5 (faces: 4-connectivity in 2-D, 6 in 3-D; "
            "the labeller's worst case).",
        ]
        if self.missing:
            notes.append("not in this build of imflow: " + ", ".join(self.missing))
        head = ["op", "size", "imflow kernel ms", "imflow GiB/s", "% of peak", "imflow submit+wait ms",
                "CuPy ms", "CuPy GiB/s", "CuPy / imflow", "cv2 ms", "scipy ms", "scipy / imflow"]
        self.emit(table("Kernels on resident images", head, rows, notes))

    def kernel_row(self, rec: Dict[str, Any]) -> List[str]:
        n = rec["elements"]
        k = rec.get("imflow_kernel_ms")
        bw = gibs(n, k)
        pct = ABSENT if bw is None or self.peak is None else f"{100 * bw * GIB / self.peak:.1f}%"
        return [rec["op"], size_label(rec["size"]), ms(k), rate(bw), pct,
                ms(rec.get("imflow_wall_ms")), ms(rec.get("cupy_ms")), rate(gibs(n, rec.get("cupy_ms"))),
                ratio(rec.get("cupy_ms"), k), ms(rec.get("cv2_ms")), ms(rec.get("scipy_ms")),
                ratio(rec.get("scipy_ms"), k)]

    # -- resident chain vs round trips --
    def chain_section(self) -> None:
        cfg, peers = self.cfg, self.peers
        rows: List[List[str]] = []
        notes: List[str] = []
        spec = "|".join(CHAIN)
        for size in cfg.chain_sizes:
            if self.over_budget():
                notes.append(f"{size_label(size)}: skipped, past the time budget")
                continue
            rec: Dict[str, Any] = {"size": size}
            if self.adapter is not None:
                log(f"imflow chain at {size}")
                for backend in ("gpu", "gpu-roundtrip"):
                    r = self.imflow.time([spec], size, backend, cfg.reps_gpu[size], self.timeout())[0]
                    if "error" in r:
                        notes.append(f"imflow {backend} at {size_label(size)}: {r['error']}")
                    rec[f"imflow_{backend}_ms"] = r.get("best_ms")
                    rec[f"imflow_{backend}_kernel_ms"] = r.get("gpu_kernel_ms")
            x = host_input(shape_of(size), "f32")
            if peers.cp is not None and peers.skf is not None:
                cp, c = peers.cp, peers.cndi

                def cupy_chain(xd: Any, trip: bool) -> Any:
                    hop = (lambda a: cp.asarray(cp.asnumpy(a))) if trip else (lambda a: a)
                    g = hop(c.gaussian_filter(xd, 2.0, mode="reflect", truncate=4.0))
                    b = hop(c.uniform_filter(g, 5, mode="reflect"))
                    m = hop(peers.cupy_otsu(b))
                    return c.label(m)[0]

                xd = cp.asarray(x)
                log(f"cupy chain at {size}")
                for key, trip in (("cupy_resident_ms", False), ("cupy_roundtrip_ms", True)):
                    rec[key] = self.attempt(
                        f"CuPy chain at {size_label(size)}", notes,
                        lambda: cuda_best(cp, lambda: cupy_chain(xd, trip), cfg.reps_gpu[size])[0])
                del xd
                cp.get_default_memory_pool().free_all_blocks()
            if peers.ndi is not None and peers.skf is not None and size in cfg.scipy_sizes:
                n = peers.ndi

                def scipy_chain() -> Any:
                    b = n.uniform_filter(n.gaussian_filter(x, 2.0, mode="reflect", truncate=4.0), 5, mode="reflect")
                    return n.label(b > peers.otsu_host(b))[0]

                log(f"scipy chain at {size}")
                rec["scipy_ms"] = self.attempt(f"scipy chain at {size_label(size)}", notes,
                                               lambda: host_best(scipy_chain, cfg.scipy_reps(size),
                                                                 warm=cfg.small)[0])
            self.records["chain"].append(rec)
            res, trip = rec.get("imflow_gpu_ms"), rec.get("imflow_gpu-roundtrip_ms")
            rows.append(["gaussian σ2 → box 5 → Otsu → label", size_label(size), ms(res), ms(rec.get("imflow_gpu_kernel_ms")),
                         ms(trip), ratio(trip, res), ms(rec.get("cupy_resident_ms")),
                         ms(rec.get("cupy_roundtrip_ms")), ratio(rec.get("cupy_roundtrip_ms"),
                                                                 rec.get("cupy_resident_ms")),
                         ratio(rec.get("cupy_resident_ms"), res), ms(rec.get("scipy_ms")),
                         ratio(rec.get("scipy_ms"), res)])
        notes += [
            "Ops: " + " → ".join(CHAIN) + ".",
            "imflow resident: one upload before timing, each op a submit on the resident image, then wait "
            "(wall ms, best of N; kernel ms from timestamps). Round trip: each op's result downloaded in its "
            "own type (f32, u8 mask) and uploaded again before the next op.",
            "CuPy: CUDA events around the chain; round trip: cupy.asnumpy then cupy.asarray between ops.",
            "CuPy / imflow and scipy / imflow: over imflow's resident wall time (> 1: imflow faster).",
        ]
        head = ["chain", "size", "imflow resident ms", "imflow kernels ms", "imflow round trips ms",
                "round trips / resident", "CuPy resident ms", "CuPy round trips ms", "CuPy trips / resident",
                "CuPy / imflow", "scipy ms", "scipy / imflow"]
        self.emit(table("Resident chain vs host round trips", head, rows, notes))

    # -- the flow --
    def flow_section(self) -> None:
        cfg, peers = self.cfg, self.peers
        work = pathlib.Path(tempfile.mkdtemp(prefix="imflow-gpu-session-"))
        try:
            self._flow(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _flow(self, work: pathlib.Path) -> None:
        cfg, peers = self.cfg, self.peers
        src = work / "in"
        src.mkdir()
        n, side = cfg.flow_files, cfg.flow_side
        log(f"writing {n} u16 TIFFs of {side}²")
        write_inputs(src, n, side, peers)
        flow_toml = work / "flow.toml"
        flow_toml.write_text(FLOW_TOML)
        rows: List[List[str]] = []
        notes: List[str] = []
        results: Dict[str, Dict[str, Any]] = {}

        def record(name: str, times: List[float], objects: Optional[int], folder: Optional[pathlib.Path] = None,
                   ) -> None:
            results[name] = {"times_ms": times, "objects": objects, "folder": folder}

        backends = (["gpu"] if self.adapter is not None else []) + ["cpu"]
        for backend in backends:
            cold_t, hit_t, objects, device = [], [], None, None
            for rep in range(cfg.flow_reps):
                if self.over_budget():
                    break
                out = work / f"imflow-{backend}-{rep}"
                log(f"imflow run --backend {backend} cold #{rep}")
                t, rep_cold = self.imflow_run(src, flow_toml, out, backend, "computed")
                if rep_cold is None:
                    notes.append(f"imflow run --backend {backend}: {t}")
                    break
                cold_t.append(float(t))
                device = rep_cold.get("device")
                objects = count_csv_rows(out)
                log(f"imflow run --backend {backend} cached #{rep}")
                t, rep_hit = self.imflow_run(src, flow_toml, out, backend, "store_hit")
                if rep_hit is None:
                    notes.append(f"imflow run --backend {backend} re-run: {t}")
                    break
                hit_t.append(float(t))
            if cold_t:
                record(f"imflow run --backend {backend}, cold ({device})", cold_t, objects,
                       work / f"imflow-{backend}-0")
            if hit_t:
                record(f"imflow run --backend {backend}, fully cached", hit_t, objects, work / f"imflow-{backend}-0")
        files = sorted(src.glob("*.tif"))
        has = peers.tifffile is not None
        py_flows: List[Tuple[str, Optional[Callable[[List[pathlib.Path], pathlib.Path], int]]]] = [
            ("imflow Python package per file: apply(gaussian, Otsu, label) + measure, backend gpu",
             (lambda fs, out: imflow_package_flow(fs, out, peers))
             if has and peers.imflow is not None and self.adapter is not None else None),
            ("CuPy per file: tifffile, gaussian_filter, Otsu on a CuPy histogram, label, per-label sums",
             (lambda fs, out: cupy_flow(fs, out, peers)) if has and peers.cp is not None and peers.skf is not None
             else None),
            (f"scipy + skimage, {os.cpu_count()} processes: tifffile, gaussian_filter, threshold_otsu, label, "
             "regionprops_table", scipy_flow_pool if has and peers.ndi is not None and peers.skm is not None
             else None),
        ]
        for name, f in py_flows:
            if f is None:
                record(name, [], None)
                continue
            times, objects = [], None
            warm = work / f"py-{len(results)}-warm"
            warm.mkdir()
            short = name.split(":")[0]
            # The warm-up: CuPy's kernels compiled, imflow's device made, the pool started.
            ok = self.attempt(short, notes, lambda: f(files[:1], warm)) is not None
            for rep in range(cfg.flow_reps if ok else 0):
                if self.over_budget():
                    break
                out = work / f"py-{len(results)}-{rep}"
                out.mkdir()
                log(f"{short} #{rep}")
                t0 = time.perf_counter()
                got = self.attempt(short, notes, lambda: f(files, out))
                if got is None:
                    times = []
                    break
                objects = got
                times.append((time.perf_counter() - t0) * 1e3)
            record(name, times, objects, work / f"py-{len(results)}-0" if times else None)
        scipy_name = py_flows[-1][0]
        base = min(results[scipy_name]["times_ms"]) if results[scipy_name]["times_ms"] else None
        reference = read_tables(results[scipy_name]["folder"]) if results[scipy_name]["folder"] else None
        counts = {r["objects"] for r in results.values() if r["objects"] is not None}
        for name, r in results.items():
            t = r["times_ms"]
            best = min(t) if t else None
            if name == scipy_name:
                same = "reference" if t else ABSENT
            else:
                same = ABSENT if r["folder"] is None or reference is None else \
                    same_tables(read_tables(r["folder"]), reference)
            r["same_as_scipy"] = same
            rows.append([name, f"{n} × {side}²", ms(best), ms(statistics.median(t)) if t else ABSENT,
                         ABSENT if best is None else f"{n / best * 1e3:.1f}",
                         ratio(base, best), ABSENT if r["objects"] is None else str(r["objects"]), same])
        self.records["flow"] = results
        notes += [
            f"Each flow: {n} u16 TIFFs of {side}² (nuclei-like blobs, Poisson noise) through gaussian σ2 -> "
            "Otsu -> label (faces) -> measure (skimage's regionprops_table columns), a CSV per file; best "
            f"and median of {cfg.flow_reps} runs. Cold: a fresh output folder and store (process start, "
            "device and pipelines included); fully cached: the same run again (every output a store hit).",
            "The Python flows run after warm-ups on one file (CuPy's kernels compiled, the pool started).",
            "vs scipy: the scipy + skimage flow's best over this one's (> 1: faster). table = scipy's: every "
            "file's CSV holds the columns and values (within 1e-6, relative) of the scipy + skimage flow's "
            "CSV for that file.",
            ("objects: every flow found the same total" if len(counts) == 1
             else f"objects: totals differ between flows ({sorted(counts)})"),
        ]
        head = ["flow", "files", "best ms", "median ms", "files/s", "vs scipy", "objects", "table = scipy's"]
        self.emit(table("The flow: gaussian → Otsu → label → measure", head, rows, notes))

    def imflow_run(self, src: pathlib.Path, flow: pathlib.Path, out: pathlib.Path, backend: str,
                   want: str) -> Tuple[Any, Optional[Dict[str, Any]]]:
        cmd = [str(self.imflow.bin), "run", "-i", str(src), "--flow", str(flow), "--out", str(out),
               "--backend", backend, "--json"]
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=self.imflow.env, timeout=self.timeout())
        except subprocess.TimeoutExpired:
            return "timed out", None
        t = (time.perf_counter() - t0) * 1e3
        if r.returncode != 0:
            return (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1], None
        report = json.loads(r.stdout)
        statuses = {o["status"] for o in report["outputs"]}
        if statuses != {want} or len(report["outputs"]) != self.cfg.flow_files:
            return f"expected {self.cfg.flow_files} outputs {want}, got {sorted(statuses)}", None
        return t, report

    def run(self) -> None:
        self.environment()
        self.probe_ops()
        wanted = self.args.sections.split(",")
        for name, f in (("kernels", self.kernels_section), ("chain", self.chain_section),
                        ("flow", self.flow_section)):
            if name in wanted:
                t0 = time.perf_counter()
                f()
                self.timings[name] = time.perf_counter() - t0
        self.records["section_seconds"] = self.timings
        total = time.perf_counter() - T0
        self.records["total_seconds"] = total
        self.emit("Section wall times: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
                  + f"; total {total:.1f} s.\n")
        (self.out / "gpu_session.json").write_text(json.dumps(self.records, indent=1, default=str))


FLOW_TOML = """\
# The GPU session's flow: labels of the Otsu mask of the denoised image, measured on the
# source (one CSV per file).
[nodes.labels]
from = "input"
ops = ["gaussian:sigma=2", "threshold:method=otsu", "label:connectivity=1"]

[nodes.objects]
from = ["labels", "input"]
op = "measure"
output = "objects"
"""
PROPS = ["label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "equivalent_diameter_area"]


def write_inputs(src: pathlib.Path, n: int, side: int, peers: Peers) -> None:
    """Nuclei-like images: four base images of gaussian blobs with Poisson noise, each
    file one of them rolled by its own offset (so every file has its own bytes and key;
    drawing noise per file would cost a minute of one core for 64 files of 2048²)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:side, 0:side]
    bases = []
    for _ in range(4):
        img = np.full((side, side), 800.0)
        for _ in range(max(8, side * side // 20000)):
            cy, cx, r = rng.uniform(0, side), rng.uniform(0, side), rng.uniform(4, 12)
            y0, y1 = int(max(cy - 3 * r, 0)), int(min(cy + 3 * r, side))
            x0, x1 = int(max(cx - 3 * r, 0)), int(min(cx + 3 * r, side))
            img[y0:y1, x0:x1] += 6000 * np.exp(-((yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2)
                                               / (2 * r * r))
        bases.append(np.clip(rng.poisson(img), 0, 65535).astype(np.uint16))
    for k in range(n):
        data = np.roll(bases[k % 4], (k * 37 % side, k * 91 % side), axis=(0, 1))
        if peers.tifffile is not None:
            peers.tifffile.imwrite(src / f"n{k:03d}.tif", data)
        else:
            peers.imflow.imwrite(str(src / f"n{k:03d}.tif"), data)


def read_tables(folder: pathlib.Path) -> Dict[str, Tuple[List[str], np.ndarray]]:
    """Each CSV of a flow's output folder by source stem (imflow's are named
    `<stem>_objects-<hash16>.csv`): its header and its values."""
    tables = {}
    for p in folder.glob("*.csv"):
        lines = p.read_text().splitlines()
        head = lines[0].split(",") if lines else []
        data = np.array([[float(v) for v in line.split(",")] for line in lines[1:] if line], dtype=np.float64)
        tables[p.name.split("_objects-")[0] if "_objects-" in p.name else p.stem] = (
            head, data.reshape(-1, len(head)))
    return tables


def same_tables(got: Dict[str, Tuple[List[str], np.ndarray]], want: Dict[str, Tuple[List[str], np.ndarray]]) -> str:
    if sorted(got) != sorted(want):
        return f"no: files {sorted(set(got) ^ set(want))[:3]}"
    for stem in sorted(want):
        (gh, g), (wh, w) = got[stem], want[stem]
        if gh != wh or g.shape != w.shape:
            return f"no: {stem} has {g.shape[0]} rows of {gh}, scipy's {w.shape[0]} of {wh}"
        bad = ~np.isclose(g, w, rtol=1e-6, atol=1e-6)
        if bad.any():
            col = wh[int(np.argwhere(bad)[0][1])]
            return f"no: {stem}, {int(bad.sum())} values differ (first in {col})"
    return "yes"


def count_csv_rows(folder: pathlib.Path) -> int:
    return sum(max(0, len(p.read_text().splitlines()) - 1) for p in folder.glob("*.csv"))


def write_csv(path: pathlib.Path, table: Dict[str, Any]) -> int:
    cols = list(table)
    data = np.column_stack([np.asarray(table[c], dtype=np.float64) for c in cols]) if cols else np.zeros((0, 0))
    np.savetxt(path, data, delimiter=",", header=",".join(cols), comments="", fmt="%.10g")
    return int(data.shape[0])


def imflow_package_flow(files: List[pathlib.Path], out: pathlib.Path, peers: Peers) -> int:
    imflow = peers.imflow
    objects = 0
    for f in files:
        x = peers.tifffile.imread(f)
        labels = imflow.apply(x, ["gaussian:sigma=2", "threshold:method=otsu", "label:connectivity=1"],
                              backend="gpu")
        objects += write_csv(out / f"{f.stem}.csv", imflow.measure(labels, x))
    return objects


def cupy_flow(files: List[pathlib.Path], out: pathlib.Path, peers: Peers) -> int:
    """The flow as a CuPy user writes it: no regionprops in cupyx, so the table's
    columns come from bincount sums and labelled min/max reductions."""
    cp, c = peers.cp, peers.cndi
    objects = 0
    for f in files:
        x = cp.asarray(peers.tifffile.imread(f)).astype(cp.float32)
        mask = peers.cupy_otsu(c.gaussian_filter(x, 2.0, mode="reflect", truncate=4.0))
        labels, n = c.label(mask)
        n = int(n)
        idx = cp.arange(1, n + 1)
        flat = labels.ravel()
        h, w = labels.shape
        yy = cp.broadcast_to(cp.arange(h, dtype=cp.float64)[:, None], (h, w)).ravel()
        xx = cp.broadcast_to(cp.arange(w, dtype=cp.float64)[None, :], (h, w)).ravel()
        area = cp.bincount(flat, minlength=n + 1)[1:].astype(cp.float64)
        safe = cp.maximum(area, 1)
        table = {
            "label": idx,
            "area": area,
            "centroid-0": cp.bincount(flat, weights=yy, minlength=n + 1)[1:] / safe,
            "centroid-1": cp.bincount(flat, weights=xx, minlength=n + 1)[1:] / safe,
            "bbox-0": c.minimum(yy.reshape(h, w), labels, idx),
            "bbox-1": c.minimum(xx.reshape(h, w), labels, idx),
            "bbox-2": c.maximum(yy.reshape(h, w), labels, idx) + 1,
            "bbox-3": c.maximum(xx.reshape(h, w), labels, idx) + 1,
            "intensity_mean": cp.bincount(flat, weights=x.ravel().astype(cp.float64), minlength=n + 1)[1:] / safe,
            "intensity_min": c.minimum(x, labels, idx),
            "intensity_max": c.maximum(x, labels, idx),
            "equivalent_diameter_area": cp.sqrt(4 * area / np.pi),
        }
        objects += write_csv(out / f"{f.stem}.csv", {k: cp.asnumpy(cp.asarray(v)) for k, v in table.items()})
    return objects


def _scipy_one(args: Tuple[str, str]) -> int:
    """One file of the scipy + skimage flow (a worker process's task)."""
    import scipy.ndimage as ndi
    import tifffile
    from skimage.filters import threshold_otsu
    from skimage.measure import regionprops_table

    path, out = args
    x = tifffile.imread(path)
    g = ndi.gaussian_filter(x.astype(np.float32), 2.0, mode="reflect", truncate=4.0)
    labels = ndi.label(g > threshold_otsu(g))[0]
    table = regionprops_table(labels, x, properties=PROPS)
    return write_csv(pathlib.Path(out) / f"{pathlib.Path(path).stem}.csv", table)


_POOL: Optional[concurrent.futures.ProcessPoolExecutor] = None


def scipy_flow_pool(files: List[pathlib.Path], out: pathlib.Path) -> int:
    global _POOL
    if _POOL is None:
        # spawn, not fork: the parent holds CUDA and Vulkan state and worker threads.
        # Started on the warm-up call, with a task per worker, so no timed run starts one.
        workers = os.cpu_count() or 1
        _POOL = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        return sum(_POOL.map(_scipy_one, [(str(files[0]), str(out))] * workers)) // workers
    return sum(_POOL.map(_scipy_one, [(str(f), str(out)) for f in files]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="the dry run: tiny sizes, a few files")
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu-session-out",
                    help="where gpu_session.md and gpu_session.json go (default $OUT)")
    ap.add_argument("--bin-dir", help="folder of imflow and kernel_timing (default: .gpu/bin, target/release, "
                                      "target/debug)")
    ap.add_argument("--without", default="", help="peers to leave out, e.g. cupy,cv2 (their cells: absent)")
    ap.add_argument("--sections", default="kernels,chain,flow")
    ap.add_argument("--peak-gbs", type=float, help="the adapter's memory bandwidth, GB/s (default: by name)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="skip what is left once this many seconds have passed (default: 360, none with --small)")
    args = ap.parse_args()
    if args.budget_s is None and not args.small:
        args.budget_s = 360.0
    session = Session(args)
    try:
        session.run()
    finally:
        if _POOL is not None:
            _POOL.shutdown()


if __name__ == "__main__":
    main()
