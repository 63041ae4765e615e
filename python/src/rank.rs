//! Rank filters from Python: the median (`scipy.ndimage.median_filter`) and grey
//! morphology (`skimage.morphology.erosion` … `black_tophat`). Each builds the op's spec
//! and runs it like every one-image call; values keep their dtype, bool included (a
//! bool mask is read as 0/1 and its result given back as bool, as scikit-image does).

use super::{accept, run, sizes, to_py, value_error, Axes, Op, OutputType, Role};
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// `scipy.ndimage.median_filter(x, size, mode, cval)` per channel.
#[pyfunction]
#[pyo3(signature = (array, size, *, mode=None, cval=0.0, backend="auto", stack=None, volume=false))]
fn median<'py>(
    array: &Bound<'py, PyAny>,
    size: &Bound<'py, PyAny>,
    mode: Option<&Bound<'py, PyAny>>,
    cval: f64,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let [sz, sy, sx] = sizes(size, volume)?;
    let spec = format!(
        "median:size_z={sz},size_y={sy},size_x={sx}{}",
        super::params::boundary(mode, cval, volume)?
    );
    let op = Op::parse(&spec).map_err(to_py)?;
    same_dtype(
        array,
        run(
            &input,
            vec![op],
            OutputType::Same,
            backend,
            Axes { stack, volume },
        )?
        .0,
    )
}

/// The spec of morphology op `name` with a footprint given as Python gives it.
fn footprint_spec(
    name: &str,
    footprint: &str,
    radius: Option<u64>,
    size: Option<u64>,
) -> PyResult<String> {
    match (radius, size) {
        (Some(r), None) => Ok(format!("{name}:footprint={footprint},radius={r}")),
        (None, Some(s)) => Ok(format!("{name}:footprint={footprint},size={s}")),
        _ => Err(value_error(
            "radius",
            format!(
                "give radius= (disk, ball, cross) or size= (square, cube), one of them; \
                 got footprint='{footprint}' with {}",
                if radius.is_some() { "both" } else { "neither" }
            ),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn morphology<'py>(
    name: &str,
    array: &Bound<'py, PyAny>,
    footprint: &str,
    radius: Option<u64>,
    size: Option<u64>,
    backend: &str,
    stack: Option<bool>,
    volume: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let input = accept(array, "array", Role::Values)?;
    let op = Op::parse(&footprint_spec(name, footprint, radius, size)?).map_err(to_py)?;
    same_dtype(
        array,
        run(
            &input,
            vec![op],
            OutputType::Same,
            backend,
            Axes { stack, volume },
        )?
        .0,
    )
}

/// `result` as bool where the caller passed bool (it ran as uint8 0/1: a rank of 0/1
/// samples is 0/1), else as it is.
pub(crate) fn same_dtype<'py>(
    array: &Bound<'py, PyAny>,
    result: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind == "b" {
        result.call_method1("astype", ("bool",))
    } else {
        Ok(result)
    }
}

/// One Python function per morphology op, named as scikit-image names it.
macro_rules! morphology_fn {
    ($py:ident, $spec:literal, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (array, footprint="disk", radius=None, size=None, *, backend="auto", stack=None, volume=false))]
        #[allow(clippy::too_many_arguments)]
        fn $py<'py>(
            array: &Bound<'py, PyAny>,
            footprint: &str,
            radius: Option<u64>,
            size: Option<u64>,
            backend: &str,
            stack: Option<bool>,
            volume: bool,
        ) -> PyResult<Bound<'py, PyAny>> {
            morphology($spec, array, footprint, radius, size, backend, stack, volume)
        }
    };
}

morphology_fn!(
    erosion,
    "erode",
    "`skimage.morphology.erosion(x, footprint)`."
);
morphology_fn!(
    dilation,
    "dilate",
    "`skimage.morphology.dilation(x, footprint)`."
);
morphology_fn!(
    opening,
    "open",
    "`skimage.morphology.opening(x, footprint)`."
);
morphology_fn!(
    closing,
    "close",
    "`skimage.morphology.closing(x, footprint)`."
);
morphology_fn!(
    white_tophat,
    "tophat",
    "`skimage.morphology.white_tophat(x, footprint)`."
);
morphology_fn!(
    black_tophat,
    "blackhat",
    "`skimage.morphology.black_tophat(x, footprint)`."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for f in [
        wrap_pyfunction!(median, m)?,
        wrap_pyfunction!(erosion, m)?,
        wrap_pyfunction!(dilation, m)?,
        wrap_pyfunction!(opening, m)?,
        wrap_pyfunction!(closing, m)?,
        wrap_pyfunction!(white_tophat, m)?,
        wrap_pyfunction!(black_tophat, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
