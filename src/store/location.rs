//! Where a store, an output folder or a source lives: a local path, or an object URL
//! (`s3://bucket/prefix`). Parsing never mistakes a URL for a folder name: a scheme this
//! build cannot reach is refused with an error naming the feature that would (before,
//! `--out s3://lab/x` quietly made a local folder `./s3:/lab/x`).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// An object store service and the cargo feature that reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Amazon S3 and S3-compatible servers (MinIO, Ceph, a test server): `s3://`.
    S3,
    /// Google Cloud Storage: `gs://`.
    Gcs,
    /// Azure Blob Storage: `az://`.
    Azure,
}

impl Service {
    /// The cargo feature of imflow that reaches it.
    pub fn feature(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gcs",
            Service::Azure => "azure",
        }
    }

    /// Whether this build reaches it.
    pub fn available(self) -> bool {
        match self {
            Service::S3 => cfg!(feature = "s3"),
            Service::Gcs => cfg!(feature = "gcs"),
            Service::Azure => cfg!(feature = "azure"),
        }
    }

    /// The URL scheme imflow writes for it.
    pub fn scheme(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gs",
            Service::Azure => "az",
        }
    }

    fn of_scheme(scheme: &str) -> Option<Service> {
        match scheme {
            "s3" | "s3a" => Some(Service::S3),
            "gs" | "gcs" => Some(Service::Gcs),
            "az" | "azure" | "abfs" | "abfss" | "adl" => Some(Service::Azure),
            _ => None,
        }
    }
}

/// A bucket (container) and a key prefix in it, without slashes at either end.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectUrl {
    /// The service.
    pub service: Service,
    /// The bucket.
    pub bucket: String,
    /// The key prefix (`""` for the bucket's root), no leading or trailing `/`.
    pub prefix: String,
}

impl ObjectUrl {
    /// The URL of `rel` under this prefix.
    pub fn join(&self, rel: &str) -> ObjectUrl {
        let rel = rel.trim_matches('/');
        let prefix = match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        };
        ObjectUrl {
            prefix,
            ..self.clone()
        }
    }

    /// The key of `rel` under this prefix.
    pub fn key(&self, rel: &str) -> String {
        self.join(rel).prefix
    }

    /// The URL as text, `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("{}://{}", self.service.scheme(), self.bucket),
            p => format!("{}://{}/{p}", self.service.scheme(), self.bucket),
        }
    }

    /// The last path segment (a file name).
    pub fn name(&self) -> &str {
        self.prefix.rsplit('/').next().unwrap_or("")
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url())
    }
}

/// A local folder or file, or a place in an object store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local path (`file://` URLs become one).
    Local(PathBuf),
    /// An object URL, of a service this build reaches.
    Object(ObjectUrl),
}

/// The scheme of `text` if it looks like a URL (`scheme://`), lower-cased. A Windows
/// drive (`C:\`) or a plain name with a colon is no URL.
fn scheme_of(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once("://")?;
    let ok = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    ok.then(|| scheme.to_ascii_lowercase())
}

impl Location {
    /// Parses a path or URL. A URL of a service this build lacks, or of an unknown
    /// scheme, is a usage error naming what is missing.
    pub fn parse(text: &str) -> Result<Location> {
        Self::parse_with(text, Service::available)
    }

    /// [`Location::parse`] with the services taken as available given by `available`
    /// (so the refusal can be tested in any build).
    pub fn parse_with(text: &str, available: impl Fn(Service) -> bool) -> Result<Location> {
        let Some(scheme) = scheme_of(text) else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let rest = &text[scheme.len() + 3..];
        if scheme == "file" {
            return Ok(Location::Local(PathBuf::from(rest)));
        }
        let Some(service) = Service::of_scheme(&scheme) else {
            return Err(Error::usage(format!(
                "{text}: unsupported URL scheme `{scheme}://` (imflow reads and writes local paths, s3://, gs:// and az://)"
            )));
        };
        if !available(service) {
            return Err(Error::usage(format!(
                "{text}: this imflow was built without the `{}` feature, which {scheme}:// needs (build with `--features {}`)",
                service.feature(),
                service.feature()
            )));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::usage(format!("{text}: the URL names no bucket")));
        }
        Ok(Location::Object(ObjectUrl {
            service,
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        }))
    }

    /// Parses a path given as a `Path` (a URL survives as one: `s3://b/k` is a valid
    /// path string).
    pub fn of_path(path: &Path) -> Result<Location> {
        match path.to_str() {
            Some(text) => Self::parse(text),
            None => Ok(Location::Local(path.to_path_buf())),
        }
    }

    /// Whether `text` names an object (a URL of a known object store scheme, whether or
    /// not this build reaches it).
    pub fn is_url(text: &str) -> bool {
        scheme_of(text).is_some_and(|s| s != "file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls() {
        let all = |_| true;
        assert_eq!(
            Location::parse_with("out/x", all).unwrap(),
            Location::Local("out/x".into())
        );
        assert_eq!(
            Location::parse_with("file:///data/x", all).unwrap(),
            Location::Local("/data/x".into())
        );
        let Location::Object(u) = Location::parse_with("s3://lab/runs/x/", all).unwrap() else {
            panic!()
        };
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("lab", "runs/x"));
        assert_eq!(u.join("a.tif").url(), "s3://lab/runs/x/a.tif");
        assert_eq!(u.join("a.tif").name(), "a.tif");
        let Location::Object(root) = Location::parse_with("gs://b", all).unwrap() else {
            panic!()
        };
        assert_eq!(
            (root.prefix.as_str(), root.key("r/k.json")),
            ("", "r/k.json".into())
        );
        // A colon without `//`, or a drive letter, is a path.
        assert!(matches!(
            Location::parse_with("C:\\data", all).unwrap(),
            Location::Local(_)
        ));
        assert!(matches!(
            Location::parse_with("a:b", all).unwrap(),
            Location::Local(_)
        ));
    }

    /// A scheme the build lacks, or one nobody supports, is refused naming the feature
    /// or the scheme, never taken as a folder name.
    #[test]
    fn unreachable_schemes_name_what_is_missing() {
        let none = |_| false;
        for (url, feature) in [
            ("s3://b/x", "`s3`"),
            ("gs://b/x", "`gcs`"),
            ("az://c/x", "`azure`"),
        ] {
            let e = Location::parse_with(url, none).unwrap_err();
            assert!(matches!(e, Error::Usage { .. }), "{e:?}");
            assert!(e.to_string().contains(feature), "{e}");
        }
        let e = Location::parse_with("ftp://h/x", |_| true).unwrap_err();
        assert!(
            e.to_string().contains("unsupported URL scheme `ftp://`"),
            "{e}"
        );
        assert!(Location::parse_with("s3:///x", |_| true).is_err());
    }
}
