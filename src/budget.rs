//! Memory budgets: how much host memory a run may use (`--memory`), how much GPU memory
//! its tiles may hold, and the tile-size override tests use to tile small images.

use crate::{Error, Result};

/// The fraction of physical memory a run uses by default.
const DEFAULT_FRACTION: u64 = 2; // one half

/// Assumed when the machine does not say how much memory it has.
const FALLBACK_MEMORY: u64 = 8 << 30;

/// GPU memory assumed for a discrete or integrated adapter, whose size wgpu does not
/// report. A software adapter (llvmpipe) uses host memory and gets the host budget.
pub const DEFAULT_GPU_MEMORY: u64 = 4 << 30;

/// Limits a run works within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Host memory, in bytes: frames larger than a share of it are streamed in tiles.
    pub memory: u64,
    /// GPU memory, in bytes, when the adapter's own memory is used; `None`: the default
    /// ([`DEFAULT_GPU_MEMORY`], or `memory` for a software adapter).
    pub gpu_memory: Option<u64>,
    /// Largest tile side, in pixels: frames larger than this are tiled even when they
    /// would fit (the override tests use; `IMFLOW_MAX_TILE` sets it too).
    pub max_tile: Option<u32>,
    /// Bytes of a tiled frame's values that may stay resident between the passes of a
    /// whole-frame op (Otsu), instead of being recomputed; `None`: a quarter of the
    /// memory the engine computes in. `Some(0)` always recomputes (what tests use to
    /// cover that path on small frames).
    pub resident: Option<u64>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            memory: default_memory(),
            gpu_memory: None,
            max_tile: std::env::var("IMFLOW_MAX_TILE")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&t| t > 0),
            resident: None,
        }
    }
}

impl Budget {
    /// A budget of `memory` bytes of host memory, the rest by default.
    pub fn with_memory(memory: u64) -> Self {
        Budget {
            memory,
            ..Budget::default()
        }
    }
}

/// Half of the machine's physical memory.
pub fn default_memory() -> u64 {
    physical_memory().unwrap_or(FALLBACK_MEMORY) / DEFAULT_FRACTION
}

fn physical_memory() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads system configuration values.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
    }
    #[cfg(not(unix))]
    None
}

/// Parses a size: `1GiB`, `512MiB`, `2G` (binary multiples), or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| Error::usage(format!("`{s}` is not a size (e.g. 1GiB, 512MiB, 2G)")))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(Error::usage(format!(
                "`{s}`: unknown unit `{other}` (use KiB, MiB, GiB or TiB)"
            )))
        }
    };
    let bytes = value * mult as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(Error::usage(format!("`{s}` is not a usable size")));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_binary_multiples() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "GiB", "1 parsec", "-1G", "0"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(default_memory() >= 1 << 20);
    }
}
