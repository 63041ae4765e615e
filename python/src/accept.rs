//! Which numpy arrays imflow takes, and what they become: the one place that knows
//! numpy's dtypes. Everything that reads an array from Python comes through [`accept`].
//!
//! - imflow's own sample types (uint8 … float64) are read as they lie when the array is
//!   C-ordered and aligned; any other layout is copied once by `numpy.require`.
//! - bool is read as uint8 (0 and 1), through a view: no copy.
//! - Non-native byte order (`>u2`, as some readers hand out) is one byte-swapping copy,
//!   the one `numpy.require(a, a.dtype.newbyteorder("="), "CA")` makes (it is also the
//!   copy into C order; a swapped int64 array is then narrowed, a second copy).
//! - int64 and uint64 (numpy's default integer, scikit-image's labels) are narrowed in
//!   one pass to the widest type imflow computes in for the array's [`Role`], with a
//!   `ValueError` naming the first value that does not fit. A result whose type follows
//!   the source's ([`follows_source`]) goes back to the caller's dtype ([`Accepted::restore`]),
//!   so labels from scikit-image come back as int64.
//! - Zero-sized arrays are the caller's to answer ([`Accepted::is_empty`],
//!   [`empty_result`]): scipy gives zero-sized results, and so does imflow, without
//!   running anything; files with no pixels stay errors.

use crate::errors::{dtype_name, shape, type_error, value_error};
use imflow::{Op, OutputType, Processor, SampleType};
use numpy::{Element, PyArray1, PyArrayDescr, PyArrayDescrMethods, PyArrayMethods};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// What an array's values are for, which sets how far wide integers may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Images (filters, thresholds, masks, files): int64 is read as int32 and uint64
    /// as uint32, the types imflow computes them in today.
    Values,
    /// Labels (`remove_small_objects`, `measure`): int64 and uint64 are read as
    /// uint32 from 0 to 2^24, the labels imflow carries exactly (label values travel
    /// as float32 on both backends).
    Labels,
}

/// Largest label value an int64/uint64 label image may hold: every integer up to it is
/// exact in float32, which labels travel as.
const MAX_EXACT_LABEL: u32 = 1 << 24;

/// An array as imflow reads it.
pub struct Accepted<'py> {
    /// C-ordered, aligned, native byte order, of the dtype of `sample_type`.
    pub array: Bound<'py, PyUntypedArray>,
    /// The caller's shape.
    pub shape: Vec<usize>,
    /// What imflow reads the samples as.
    pub sample_type: SampleType,
    /// The caller's dtype (native order) when imflow reads a narrower type: results
    /// whose type follows the source's are handed back in it.
    pub wide: Option<Bound<'py, PyArrayDescr>>,
}

impl<'py> Accepted<'py> {
    /// Whether the array holds no samples (a zero on any axis).
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }

    /// `result` in the caller's dtype when imflow read a narrower one and the result's
    /// type follows the source's (`follows`), else as it is.
    pub fn restore(&self, result: Bound<'py, PyAny>, follows: bool) -> PyResult<Bound<'py, PyAny>> {
        match &self.wide {
            Some(wide) if follows => result.call_method1("astype", (wide,)),
            _ => Ok(result),
        }
    }

    /// The numpy dtype of a result of type `t`: the caller's own for a result whose type
    /// follows a narrowed source's.
    pub fn result_dtype(&self, t: SampleType, follows: bool) -> Bound<'py, PyAny> {
        match &self.wide {
            Some(wide) if follows => wide.clone().into_any(),
            _ => numpy_dtype(self.array.py(), t).into_any(),
        }
    }

    /// The caller's dtype, by numpy's name.
    fn caller_dtype(&self) -> String {
        match &self.wide {
            Some(w) => dtype_str(w),
            None => dtype_name(self.sample_type).to_string(),
        }
    }

    /// Context for an error raised on a narrowed array: the type it was read as.
    pub fn read_as(&self) -> Option<String> {
        self.wide.as_ref().map(|_| {
            format!(
                "(the {} array was read as {})",
                self.caller_dtype(),
                dtype_name(self.sample_type)
            )
        })
    }
}

/// `array` (the parameter `param`) as imflow reads it; see the module's doc.
pub fn accept<'py>(array: &Bound<'py, PyAny>, param: &str, role: Role) -> PyResult<Accepted<'py>> {
    let py = array.py();
    let untyped = array.cast::<PyUntypedArray>().map_err(|_| {
        let got = array.get_type().name().map(|n| n.to_string());
        type_error(format!(
            "{param}: expected a numpy array, got {}",
            got.unwrap_or_default()
        ))
    })?;
    let caller_shape = untyped.shape().to_vec();
    let caller_dtype = untyped.dtype();
    // The dtype in native byte order; what it is decides whether imflow reads it,
    // before anything is copied.
    let swapped = caller_dtype.is_native_byteorder() == Some(false);
    let dtype = match swapped {
        true => caller_dtype
            .call_method1("newbyteorder", ("=",))?
            .cast_into::<PyArrayDescr>()?,
        false => caller_dtype.clone(),
    };
    let is = |t: Bound<'_, PyArrayDescr>| dtype.is_equiv_to(&t);
    let read = [
        (numpy::dtype::<u8>(py), Read::As(SampleType::U8)),
        (numpy::dtype::<u16>(py), Read::As(SampleType::U16)),
        (numpy::dtype::<u32>(py), Read::As(SampleType::U32)),
        (numpy::dtype::<i8>(py), Read::As(SampleType::I8)),
        (numpy::dtype::<i16>(py), Read::As(SampleType::I16)),
        (numpy::dtype::<i32>(py), Read::As(SampleType::I32)),
        (numpy::dtype::<f32>(py), Read::As(SampleType::F32)),
        (numpy::dtype::<f64>(py), Read::As(SampleType::F64)),
        (numpy::dtype::<bool>(py), Read::Bool),
        (numpy::dtype::<i64>(py), Read::I64),
        (numpy::dtype::<u64>(py), Read::U64),
    ];
    let Some((_, how)) = read.into_iter().find(|(d, _)| is(d.clone())) else {
        return Err(type_error(format!(
            "{param}: unsupported dtype {}: imflow reads bool, uint8, uint16, uint32, \
             uint64, int8, int16, int32, int64, float32 and float64 (in either byte order)",
            dtype_str(&caller_dtype)
        )));
    };
    // One copy at most: into C order, aligned, and native byte order together.
    let np = py.import("numpy")?;
    let to = match swapped {
        true => dtype.clone().into_any(),
        false => py.None().into_bound(py),
    };
    let array = np
        .call_method1("require", (array, to, ("C", "A")))?
        .cast_into::<PyUntypedArray>()?;
    let accepted = |array, sample_type, wide| Accepted {
        array,
        shape: caller_shape.clone(),
        sample_type,
        wide,
    };
    const LABELS: &str = " (labels travel as float32, exact up to 2^24)";
    let (array, t) = match (how, role) {
        (Read::As(t), _) => return Ok(accepted(array, t, None)),
        // numpy's bools are the bytes 0 and 1: a uint8 view reads them as they lie.
        (Read::Bool, _) => {
            let view = array.call_method1("view", (np.getattr("uint8")?,))?;
            return Ok(accepted(view.cast_into()?, SampleType::U8, None));
        }
        (Read::I64, Role::Values) => {
            narrow::<i64, i32>(&array, param, (i32::MIN.into(), i32::MAX.into()), "")?
        }
        (Read::U64, Role::Values) => narrow::<u64, u32>(&array, param, (0, u32::MAX.into()), "")?,
        (Read::I64, Role::Labels) => {
            narrow::<i64, u32>(&array, param, (0, MAX_EXACT_LABEL.into()), LABELS)?
        }
        (Read::U64, Role::Labels) => {
            narrow::<u64, u32>(&array, param, (0, MAX_EXACT_LABEL.into()), LABELS)?
        }
    };
    Ok(accepted(array, t, Some(dtype)))
}

/// How a dtype is read.
#[derive(Clone, Copy)]
enum Read {
    /// As this sample type, in place.
    As(SampleType),
    /// As uint8, through a view.
    Bool,
    /// Narrowed (see [`Role`]).
    I64,
    U64,
}

/// A C-ordered array of `S` as a new array of `T`, every value checked against
/// `lo..=hi` in the same pass (with the GIL released); a `ValueError` names the first
/// value outside, with its index in the caller's axes (`why` says why the range).
fn narrow<'py, S, T>(
    array: &Bound<'py, PyUntypedArray>,
    param: &str,
    (lo, hi): (S, S),
    why: &str,
) -> PyResult<(Bound<'py, PyUntypedArray>, SampleType)>
where
    S: Element + Copy + PartialOrd + Send + Sync + std::fmt::Display,
    T: Element + TryFrom<S> + Send + Narrow,
{
    let py = array.py();
    let dims = array.shape().to_vec();
    let ro = array.cast::<numpy::PyArrayDyn<S>>()?.try_readonly()?;
    let src = ro
        .as_slice()
        .map_err(|e| crate::errors::error(&format!("cannot read the array's memory: {e}")))?;
    let out = py.detach(|| -> Result<Vec<T>, usize> {
        let mut out = Vec::with_capacity(src.len());
        for (i, &v) in src.iter().enumerate() {
            match T::try_from(v) {
                Ok(t) if lo <= v && v <= hi => out.push(t),
                _ => return Err(i),
            }
        }
        Ok(out)
    });
    let out = out.map_err(|i| {
        value_error(
            param,
            format!(
                "value {} at index {} does not fit: imflow reads this {} array as {}, \
                 from {lo} to {hi}{why}",
                src[i],
                shape(&unravel(i, &dims)),
                dtype_str(&array.dtype()),
                dtype_name(T::SAMPLE_TYPE),
            ),
        )
    })?;
    let narrowed = PyArray1::from_vec(py, out).reshape(dims)?;
    Ok((narrowed.into_any().cast_into()?, T::SAMPLE_TYPE))
}

/// The sample types wide integers narrow to.
trait Narrow {
    const SAMPLE_TYPE: SampleType;
}
impl Narrow for i32 {
    const SAMPLE_TYPE: SampleType = SampleType::I32;
}
impl Narrow for u32 {
    const SAMPLE_TYPE: SampleType = SampleType::U32;
}

/// A flat C-order index as one index per axis.
fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        index[k] = flat % d.max(1);
        flat /= d.max(1);
    }
    index
}

/// Whether the type of `ops`' result under `dtype` follows the source's: what makes a
/// result of a narrowed int64 source go back to int64 (labels through
/// `remove_small_objects`, a filter with `dtype='same'`), while a mask stays uint8 and
/// `label`'s output uint32. Decided by trying both 32-bit integer sources.
pub fn follows_source(ops: &[Op], dtype: OutputType) -> bool {
    [SampleType::I32, SampleType::U32]
        .into_iter()
        .all(|t| Processor::output_type(ops, t, dtype) == t)
}

/// The zero-sized result of `ops` on a zero-sized `input` (scipy's answer at this
/// edge): the input's shape, the dtype the ops would give. The ops are checked against
/// the input's type first, so an op that refuses it still says so.
pub fn empty_result<'py>(
    input: &Accepted<'py>,
    ops: &[Op],
    dtype: OutputType,
) -> PyResult<Bound<'py, PyAny>> {
    let mut t = input.sample_type;
    for op in ops {
        op.validate().map_err(crate::errors::to_py)?;
        op.check_input(t).map_err(crate::errors::to_py)?;
        t = op.output_type(t);
    }
    let out = Processor::output_type(ops, input.sample_type, dtype);
    let dtype = input.result_dtype(out, follows_source(ops, dtype));
    let py = input.array.py();
    py.import("numpy")?
        .call_method1("empty", (input.shape.clone(), dtype))
}

/// numpy's dtype of a sample type.
pub fn numpy_dtype(py: Python<'_>, t: SampleType) -> Bound<'_, PyArrayDescr> {
    match t {
        SampleType::U8 => numpy::dtype::<u8>(py),
        SampleType::U16 => numpy::dtype::<u16>(py),
        SampleType::U32 => numpy::dtype::<u32>(py),
        SampleType::I8 => numpy::dtype::<i8>(py),
        SampleType::I16 => numpy::dtype::<i16>(py),
        SampleType::I32 => numpy::dtype::<i32>(py),
        SampleType::F32 => numpy::dtype::<f32>(py),
        SampleType::F64 => numpy::dtype::<f64>(py),
    }
}

/// A dtype by numpy's name (`int64`; `>u2` for a swapped one, as numpy writes it).
fn dtype_str(d: &Bound<'_, PyArrayDescr>) -> String {
    let name = |attr| {
        d.getattr(attr)
            .and_then(|n| n.extract::<String>())
            .unwrap_or_default()
    };
    match d.is_native_byteorder() {
        Some(false) => name("str"),
        _ => name("name"),
    }
}
