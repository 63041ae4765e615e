//! Input expansion, as `imflow run -i` does it: files as given, folders to their files,
//! globs to their matches, object URLs likewise (`s3://bucket/raw/` lists the prefix);
//! an embedder gets the same behaviour.

use crate::store::Location;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Expands inputs into files, absolute and sorted per input, duplicates removed:
/// - a folder gives its files (not sub-folders, but OME-Zarr images in it), hidden
///   ones (`.name`) skipped;
/// - a pattern with `*`, `?` or `[` gives its matching files, hidden ones only when the
///   pattern names the dot (needs the `glob` feature, on by default);
/// - anything else is kept as given, even if missing, so it is reported as a failure
///   rather than silently dropped.
/// - an object URL (`s3://bucket/raw/`, `s3://bucket/raw/*.tif`) likewise, its objects
///   named by their URLs (needs the store feature of its service, e.g. `s3`).
/// - an OME-Zarr image (see [`is_zarr`]) is one input, a folder or URL.
///
/// Files under any of `skip` (the output and store folders, say) are left out, so a
/// run never reads its own outputs back in. An input that yields no file is an error.
pub fn expand(inputs: &[impl AsRef<str>], skip: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let skip: Vec<PathBuf> = skip
        .iter()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| absolute(p))
        .collect();
    let mut files = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        let path = Path::new(input);
        let mut found: Vec<PathBuf> = if is_zarr(input) {
            // An OME-Zarr image is a folder (or a prefix) but one input.
            vec![PathBuf::from(input.trim_end_matches('/'))]
        } else if Location::is_url(input) {
            objects(input)?
        } else if path.is_dir() {
            std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    (p.is_file() || p.to_str().is_some_and(is_zarr))
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        } else if input.contains(['*', '?', '[']) {
            glob(input)?
        } else {
            vec![path.to_path_buf()]
        };
        let mut found: Vec<PathBuf> = found.drain(..).map(|p| absolute(&p)).collect();
        found.retain(|p| !skip.iter().any(|s| p.starts_with(s)));
        if found.is_empty() {
            return Err(Error::usage(format!("{input}: no input files")));
        }
        found.sort();
        files.extend(found);
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(p.clone()));
    Ok(files)
}

/// Whether `text` names an OME-Zarr image, an input kept whole rather than listed: a
/// folder holding `zarr.json` (NGFF 0.5) or `.zattrs` (0.4), or a path or URL whose name
/// ends in `.zarr`.
pub fn is_zarr(text: &str) -> bool {
    if text.trim_end_matches('/').ends_with(".zarr") {
        return true;
    }
    let p = Path::new(text);
    !Location::is_url(text)
        && p.is_dir()
        && (p.join("zarr.json").is_file() || p.join(".zattrs").is_file())
}

/// Absolute, for a local path; an object URL as it is.
fn absolute(p: &Path) -> PathBuf {
    if p.to_str().is_some_and(Location::is_url) {
        return p.to_path_buf();
    }
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The objects an input URL names.
fn objects(input: &str) -> Result<Vec<PathBuf>> {
    match Location::parse(input)? {
        Location::Local(p) => Ok(vec![p]),
        #[cfg(feature = "object-store-base")]
        Location::Object(url) => Ok(crate::store::object::list_inputs(&url, input)?
            .iter()
            .map(|u| PathBuf::from(u.url()))
            .collect()),
        #[cfg(not(feature = "object-store-base"))]
        Location::Object(url) => unreachable!("{url}: parsed only where the build reaches it"),
    }
}

#[cfg(feature = "glob")]
fn glob(pattern: &str) -> Result<Vec<PathBuf>> {
    // As a shell globs: `*` does not match a leading dot.
    let options = ::glob::MatchOptions {
        require_literal_leading_dot: true,
        ..Default::default()
    };
    Ok(::glob::glob_with(pattern, options)
        .map_err(|e| Error::usage(format!("{pattern}: bad glob: {e}")))?
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect())
}

#[cfg(not(feature = "glob"))]
fn glob(pattern: &str) -> Result<Vec<PathBuf>> {
    Err(Error::usage(format!(
        "{pattern}: glob patterns need imflow's `glob` feature; list the files or give a folder"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_globs_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["b.tif", "a.tif", ".hidden.tif", "c.png"] {
            std::fs::write(d.join(name), b"x").unwrap();
        }
        std::fs::create_dir(d.join("out")).unwrap();
        std::fs::write(d.join("out/a-0123.tif"), b"x").unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let got = expand(&[s(d)], &[]).unwrap();
        assert_eq!(got, [d.join("a.tif"), d.join("b.tif"), d.join("c.png")]);
        #[cfg(feature = "glob")]
        {
            let got = expand(&[format!("{}/**/*.tif", s(d))], &[d.join("out")]).unwrap();
            assert_eq!(got, [d.join("a.tif"), d.join("b.tif")], "out/ skipped");
        }
        // A missing file is kept (to be reported); an empty folder is an error.
        let missing = d.join("missing.tif");
        assert_eq!(expand(&[s(&missing)], &[]).unwrap(), [missing]);
        std::fs::create_dir(d.join("empty")).unwrap();
        let e = expand(&[s(&d.join("empty"))], &[]).unwrap_err();
        assert!(matches!(e, Error::Usage { .. }) && e.to_string().contains("no input files"));
        // Duplicates go, the first occurrence stays.
        assert_eq!(expand(&[s(&d.join("b.tif")), s(d)], &[]).unwrap().len(), 3);
    }
}
