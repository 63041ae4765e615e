//! Cached flows from Python: `Flow`, `Store` and `Executor`, mirroring the Rust API with
//! the CLI's op strings. `Executor.run` releases the GIL for the whole run, and one
//! executor may be shared by threads (its GPU device and resident cache with it).

use crate::arrays::to_frames;
use crate::errors::to_py;
use imflow::{Executor, Flow, NodeId, Op, RunOptions, Store};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBytes, PyDict};
use std::path::PathBuf;

/// A DAG of sources (files, arrays) and ops; nodes are ints, in the order added.
#[pyclass(name = "Flow", module = "imflow")]
pub struct PyFlow {
    inner: Flow,
}

fn node(n: usize) -> NodeId {
    NodeId::from(n)
}

#[pymethods]
impl PyFlow {
    #[new]
    fn new() -> Self {
        PyFlow { inner: Flow::new() }
    }

    /// An image file, keyed by its bytes (a renamed file is the same source); with
    /// `volume=True` a plain multi-page TIFF is one volume of its pages.
    #[pyo3(signature = (path, *, volume=false))]
    fn file(&mut self, path: PathBuf, volume: bool) -> usize {
        let reading = if volume {
            imflow::io::Reading::Volume
        } else {
            imflow::io::Reading::Auto
        };
        self.inner.file_as(path, reading).index()
    }

    /// An array, keyed by its samples (shape and dtype included). One image: (H, W) or
    /// (H, W, C); with `volume=True` (Z, Y, X) or (Z, Y, X, C).
    #[pyo3(signature = (array, name, *, volume=false))]
    fn array(&mut self, array: &Bound<'_, PyAny>, name: &str, volume: bool) -> PyResult<usize> {
        let axes = crate::arrays::Axes {
            stack: Some(false),
            volume,
        };
        let (mut frames, _) = to_frames(array, "array", axes)?;
        Ok(self.inner.image(name, frames.remove(0)).index())
    }

    /// An op (a CLI spec such as "gaussian:sigma=2") applied to `node`.
    fn op(&mut self, node_: usize, spec: &str) -> PyResult<usize> {
        let op = Op::parse(spec).map_err(to_py)?;
        Ok(self.inner.op(node(node_), op).map_err(to_py)?.index())
    }

    /// Ops applied in order from `node`; returns the last.
    fn chain(&mut self, node_: usize, specs: Vec<String>) -> PyResult<usize> {
        let ops: Vec<Op> = (specs.iter())
            .map(|s| Op::parse(s).map_err(to_py))
            .collect::<PyResult<_>>()?;
        Ok(self.inner.chain(node(node_), &ops).map_err(to_py)?.index())
    }

    /// A table of per-object measurements of `labels` on `intensity`, written as CSV.
    fn measure(&mut self, labels: usize, intensity: usize) -> PyResult<usize> {
        Ok(self
            .inner
            .measure(node(labels), node(intensity))
            .map_err(to_py)?
            .index())
    }

    /// Marks `node` to be written as `<name>-<hash16>.<ext>` (or, with persist=False,
    /// returned in the report as an array or a CSV table).
    #[pyo3(signature = (node_, name, *, dtype=None, format=None, persist=true))]
    fn materialize(
        &mut self,
        node_: usize,
        name: &str,
        dtype: Option<&str>,
        format: Option<&str>,
        persist: bool,
    ) -> PyResult<()> {
        let dtype = crate::parse_dtype(dtype)?;
        let format = format
            .map(|f| {
                imflow::io::Format::from_extension(f).ok_or_else(|| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "format: unknown `{f}` (tif, png, jpg, gif, webp, bmp)"
                    ))
                })
            })
            .transpose()?;
        let m = self.inner.materialize(node(node_), name).map_err(to_py)?;
        m.dtype = dtype;
        m.format = format;
        m.persist = persist;
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

fn parse_key(hex: &str) -> PyResult<imflow::key::Key> {
    imflow::key::Key::from_hex(hex).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!("blake3: `{hex}` is not 64 hex digits"))
    })
}

/// A result store: outputs in `out`, records in `store` (default `out/.imflow`). Either
/// may be an object URL (`s3://bucket/prefix`).
#[pyclass(name = "Store", module = "imflow", frozen)]
pub struct PyStore {
    inner: Store,
}

#[pymethods]
impl PyStore {
    #[new]
    #[pyo3(signature = (out, store=None))]
    fn new(out: PathBuf, store: Option<PathBuf>) -> PyResult<Self> {
        Ok(PyStore {
            inner: Store::open(out, store.as_deref()).map_err(to_py)?,
        })
    }

    /// The output folder (or its URL: a string, since a path would fold `s3://`).
    #[getter]
    fn out_dir(&self) -> String {
        self.inner.out_dir().to_string_lossy().into_owned()
    }

    /// Stores `data` as the file `name` in the output folder (or under the URL), unless
    /// an intact copy is there; returns its path or URL.
    fn put(&self, py: Python<'_>, name: &str, data: &[u8]) -> PyResult<String> {
        let file = py
            .detach(|| self.inner.put_named(name, data))
            .map_err(to_py)?;
        Ok(file.path.to_string_lossy().into_owned())
    }

    /// Raises unless the file `name` is there with this size and blake3 (hex): a
    /// re-hash on disk, one metadata request on an object store (no download).
    fn check(&self, py: Python<'_>, name: &str, size: u64, blake3: &str) -> PyResult<()> {
        let hash = parse_key(blake3)?;
        py.detach(|| self.inner.check_named(name, size, &hash))
            .map_err(to_py)
    }

    /// The bytes of the file `name`, verified against its blake3 (hex).
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        blake3: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let hash = parse_key(blake3)?;
        let bytes = py
            .detach(|| self.inner.read_named(name, &hash))
            .map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Whether outputs live on an object store.
    #[getter]
    fn remote(&self) -> bool {
        self.inner.is_remote()
    }

    /// Re-hashes every stored file against its record: (records, ok, problems).
    fn verify(&self, py: Python<'_>) -> PyResult<(usize, usize, Vec<String>)> {
        let v = py.detach(|| self.inner.verify()).map_err(to_py)?;
        let problems = v.problems.iter().map(|p| p.error.to_string()).collect();
        Ok((v.records, v.ok, problems))
    }
}

/// Runs flows, caching results in a store; holds the GPU device and keeps recent
/// results resident. Share one per process, across threads.
#[pyclass(name = "Executor", module = "imflow", frozen)]
pub struct PyExecutor {
    inner: Executor,
}

#[pymethods]
impl PyExecutor {
    #[new]
    #[pyo3(signature = (backend="auto", *, resident_budget=None))]
    fn new(backend: &str, resident_budget: Option<u64>) -> PyResult<Self> {
        let mut e = Executor::new(crate::parse_backend(backend)?);
        if let Some(b) = resident_budget {
            e = e.with_resident_budget(b);
        }
        Ok(PyExecutor { inner: e })
    }

    /// Runs `flow` against `store` with the GIL released. Returns (report JSON, arrays
    /// of outputs not persisted, CSV tables of those that are tables); `imflow.Executor`
    /// wraps them in a `Report`.
    #[pyo3(signature = (flow, store, *, refresh=false, jobs=0, memory=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        flow: PyRef<'py, PyFlow>,
        store: &PyStore,
        refresh: bool,
        jobs: usize,
        memory: Option<&str>,
    ) -> PyResult<(String, Bound<'py, PyDict>, Bound<'py, PyDict>)> {
        let mut options = RunOptions {
            refresh,
            jobs,
            ..Default::default()
        };
        if let Some(m) = memory {
            options.budget.memory = imflow::budget::parse_size(m).map_err(to_py)?;
        }
        let flow = flow.inner.clone();
        let report = py
            .detach(|| self.inner.run(&flow, &store.inner, &options))
            .map_err(to_py)?;
        let arrays = PyDict::new(py);
        let tables = PyDict::new(py);
        for o in &report.outputs {
            if let Some(stack) = &o.image {
                let layout = crate::arrays::Layout::of_frames(&stack.frames);
                let a = crate::arrays::to_array(py, stack.frames.clone(), &layout)?;
                arrays.set_item(&o.name, a)?;
            }
            if let Some(csv) = &o.table {
                tables.set_item(&o.name, csv)?;
            }
        }
        Ok((report.to_json(), arrays, tables))
    }

    /// `cpu`, the adapter's name, or None before anything ran.
    #[getter]
    fn device(&self) -> Option<String> {
        self.inner
            .gpu_context()
            .map(|c| c.adapter().name.clone())
            .or_else(|| self.inner.notice().map(|_| "cpu".to_string()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFlow>()?;
    m.add_class::<PyStore>()?;
    m.add_class::<PyExecutor>()?;
    Ok(())
}
