//! Content keys (blake3) for sources, tasks and stored outputs.
//!
//! A task's key covers everything its result depends on: the op, the op's version (the
//! WGSL sources it runs, plus a version of its CPU twin), its canonical parameters and
//! its inputs' keys. Sources are keyed by their bytes, never their path, so an edited
//! file is a new source and a moved one is the same. Both backends produce the same
//! keys: a result computed on one is a hit for the other.

use crate::image::Image;
use crate::ops::{IntMode, Op};
use crate::shaders::Shader;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Version of the key derivation itself; bump to invalidate every stored result.
const SCHEME: &[u8] = b"imflow.key.v1";

/// Versions of the CPU twins. Bump one when its numerics change; the shader side is
/// covered by hashing the WGSL source.
const CPU_TWIN_VERSIONS: [(&str, u32); 8] = [
    ("convert", 1),
    ("gaussian", 1),
    ("box", 2), // 2: running sums start at fixed places in the whole image (tiling)
    ("threshold", 1),
    ("gaussian.int", 1),
    ("box.int", 1),
    ("label", 1),
    ("expand_labels", 1),
];

/// A 32-byte blake3 key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    /// All 64 hex digits.
    pub fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// The first 16 hex digits, as used in file names.
    pub fn short(&self) -> String {
        self.hex()[..16].to_string()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Key> {
        blake3::Hash::from_hex(s).ok().map(|h| Key(*h.as_bytes()))
    }

    /// blake3 of some bytes.
    pub fn of_bytes(bytes: &[u8]) -> Key {
        Key(*blake3::hash(bytes).as_bytes())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key a finished hasher gives.
    #[cfg_attr(not(feature = "ome-zarr"), allow(dead_code))]
    pub(crate) fn of_hasher(h: &blake3::Hasher) -> Key {
        Key(*h.finalize().as_bytes())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.short())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Key::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a 64-digit hex key: {s}")))
    }
}

/// What the file system says about a file's identity and last change, taken on the open
/// file right after reading it. A run keys each source by its bytes first and
/// decodes it later; when the file's stamp at decode equals the one taken when it was
/// keyed, the bytes are the keyed ones and are not hashed again. This is git's and
/// make's trust in stat data: any write moves mtime and ctime, and ctime cannot be set
/// back by a user. Whatever the stamps cannot vouch for is hashed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// How long before a read a file must have last changed for its stamp to count: a write
/// within the same tick of the file system's clock as the read (1-2 s on some file
/// systems) could leave mtime and ctime as they were (git's "racily clean" files).
const RACY: std::time::Duration = std::time::Duration::from_secs(3);

impl FileStamp {
    /// The stamp of `file`, whose read began at `read_began`; `None` where it cannot
    /// vouch for the contents: off Unix, or changed within [`RACY`] of the read.
    pub(crate) fn of(file: &std::fs::File, read_began: std::time::SystemTime) -> Option<FileStamp> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let m = file.metadata().ok()?;
            let settled = read_began.checked_sub(RACY)?;
            let before = |secs: i64, nanos: i64| {
                let t = std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(
                    u64::try_from(secs).ok()?,
                    u32::try_from(nanos).ok()?,
                ))?;
                Some(t < settled)
            };
            if !(before(m.mtime(), m.mtime_nsec())? && before(m.ctime(), m.ctime_nsec())?) {
                return None;
            }
            Some(FileStamp {
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = (file, read_began);
            None
        }
    }
}

/// Opens `path` and lets `read` read it; returns what `read` made with the file's stamp,
/// taken on the open file after the read (see [`FileStamp`]).
pub(crate) fn read_stamped<T>(
    path: &std::path::Path,
    read: impl FnOnce(&mut std::fs::File) -> T,
) -> std::io::Result<(T, Option<FileStamp>)> {
    let began = std::time::SystemTime::now();
    let mut file = std::fs::File::open(path)?;
    let made = read(&mut file);
    Ok((made, FileStamp::of(&file, began)))
}

/// blake3 of the rest of a file, streamed through blake3's own 64 KiB buffer: the file
/// is not held in memory, and each piece is hashed while it is still in cache.
fn hash_reader(file: &mut std::fs::File) -> std::io::Result<Key> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file)?;
    Ok(Key(*hasher.finalize().as_bytes()))
}

/// blake3 of a file's bytes, streamed (see [`hash_reader`]).
pub fn hash_file(path: &std::path::Path) -> std::io::Result<Key> {
    hash_reader(&mut std::fs::File::open(path)?)
}

/// [`hash_file`] with the file's stamp taken after the read.
pub(crate) fn hash_stamped(path: &std::path::Path) -> std::io::Result<(Key, Option<FileStamp>)> {
    let (key, stamp) = read_stamped(path, hash_reader)?;
    Ok((key?, stamp))
}

/// Hashes length-prefixed fields, so no two different field lists hash alike.
struct Hasher(blake3::Hasher);

impl Hasher {
    fn new(domain: &str) -> Self {
        let mut h = Hasher(blake3::Hasher::new());
        h.field(SCHEME).field(domain.as_bytes());
        h
    }
    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }
    fn finish(&self) -> Key {
        Key(*self.0.finalize().as_bytes())
    }
}

/// Key of a file source, from the blake3 of its bytes and how its pages are read (a
/// file read as its own metadata says keeps the key it always had).
pub fn file_source(content: &Key, reading: crate::io::Reading) -> Key {
    let mut h = Hasher::new("source.file");
    h.field(&content.0);
    match reading {
        crate::io::Reading::Auto => &mut h,
        crate::io::Reading::Volume => h.field(b"volume"),
        crate::io::Reading::Frames => h.field(b"frames"),
    };
    h.finish()
}

/// Key of an in-memory source: sample type, shape and samples.
pub fn image_source(image: &Image) -> Key {
    let s = image.shape();
    Hasher::new("source.image")
        .field(image.sample_type().name().as_bytes())
        .field(&if s.is_volume() {
            [s.width, s.height, s.channels, s.depth]
                .map(u32::to_le_bytes)
                .concat()
        } else {
            // A 2-D image's key is what it always was.
            [s.width, s.height, s.channels]
                .map(u32::to_le_bytes)
                .concat()
        })
        .field(&image.samples().as_le_bytes())
        .finish()
}

/// The version of an op: its shader family's WGSL, the conversion shader every GPU
/// chain runs, the prelude both are compiled with, and the CPU twins' versions.
pub fn op_version(op: &Op) -> Key {
    // The integer mode's ops run another family (on integer input); ops without it keep
    // the versions they always had.
    let (family, shader) = match op {
        Op::Gaussian(g) if g.int == IntMode::Scipy => ("gaussian.int", Shader::GaussianInt),
        Op::Box(b) if b.int == IntMode::Scipy => ("box.int", Shader::BoxInt),
        Op::Gaussian(_) => ("gaussian", Shader::Gaussian),
        Op::Box(_) => ("box", Shader::BoxBlur),
        Op::Threshold(_) => ("threshold", Shader::Threshold),
        Op::Label(_) | Op::RemoveSmall(_) => ("label", Shader::Label),
        Op::Median(_) => ("median", Shader::Rank),
        Op::Erode(_)
        | Op::Dilate(_)
        | Op::Open(_)
        | Op::Close(_)
        | Op::Tophat(_)
        | Op::Blackhat(_) => ("morph", Shader::Rank),
        Op::Dog(_) => ("dog", Shader::Gaussian),
        Op::Log(_) => ("log", Shader::Gaussian),
        Op::Gradient(_) => ("gradient", Shader::Gaussian),
        Op::Distance(_) => ("distance", Shader::Distance),
        Op::FillHoles => ("fill_holes", Shader::Segment),
        Op::RemoveHoles(_) => ("remove_small_holes", Shader::Holes),
        Op::ClearBorder => ("clear_border", Shader::Segment),
        // Both backends run the CPU twin (`cpu::expand`); the version is the twin's.
        Op::ExpandLabels(_) => ("expand_labels", Shader::Distance),
    };
    let twin = |name: &str| {
        CPU_TWIN_VERSIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    };
    let mut h = Hasher::new("op.version");
    h.field(family.as_bytes())
        .field(shader.source().as_bytes())
        .field(Shader::Convert.source().as_bytes())
        .field(crate::shaders::PRELUDE.as_bytes())
        .field(&twin(family).to_le_bytes())
        .field(&twin("convert").to_le_bytes());
    // On float input the integer mode's ops run the default family.
    match shader {
        Shader::GaussianInt => h.field(Shader::Gaussian.source().as_bytes()),
        Shader::BoxInt => h.field(Shader::BoxBlur.source().as_bytes()),
        _ => &mut h,
    };
    // The gaussians' difference and sum run the rank shader's `difference`.
    if let Op::Dog(_) | Op::Log(_) = op {
        h.field(Shader::Rank.source().as_bytes());
    }
    // Filling small holes inverts the mask around removing small objects (label.wgsl).
    if let Op::RemoveHoles(_) = op {
        h.field(Shader::Label.source().as_bytes())
            .field(&twin("label").to_le_bytes());
    }
    // The gradient's derivative passes and sum of squares.
    if let Op::Gradient(_) = op {
        h.field(Shader::Derivative.source().as_bytes());
    }
    // A gaussian's derivatives of odd order run it too (order 0 keeps its key).
    if matches!(op, Op::Gaussian(g) if g.order.iter().any(|o| o % 2 == 1)) {
        h.field(Shader::Derivative.source().as_bytes());
    }
    // The local threshold's gaussian and comparison (other methods keep their keys).
    if let Op::Threshold(crate::ops::Threshold::Local { .. }) = op {
        h.field(Shader::Gaussian.source().as_bytes())
            .field(Shader::Local.source().as_bytes());
    }
    // A boundary mode other than reflect pads the frame first (reflect keeps its key).
    if op.boundary().is_some_and(|b| !b.is_reflect()) {
        h.field(Shader::Pad.source().as_bytes());
    }
    h.finish()
}

/// Version of [`crate::measure`]: its columns and their arithmetic.
const MEASURE_VERSION: u32 = 1;

/// Key of a measurement table: its version and its two inputs' keys (labels,
/// intensity).
pub fn measure(inputs: &[Key]) -> Key {
    let mut h = Hasher::new("measure");
    h.field(&MEASURE_VERSION.to_le_bytes());
    for k in inputs {
        h.field(&k.0);
    }
    h.finish()
}

/// Key of a task: op, op version, canonical parameters, input keys.
pub fn task(op: &Op, inputs: &[Key]) -> Key {
    let params = serde_json::to_vec(op).expect("ops serialise");
    let mut h = Hasher::new("task");
    h.field(op.name().as_bytes())
        .field(&op_version(op).0)
        .field(&params);
    for k in inputs {
        h.field(&k.0);
    }
    h.finish()
}

/// Key of a stored output: the task, plus how it is written (name, sample type, format).
pub fn output(task: &Key, name: &str, sample_type: &str, format: &str) -> Key {
    Hasher::new("output")
        .field(&task.0)
        .field(name.as_bytes())
        .field(sample_type.as_bytes())
        .field(format.as_bytes())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;

    #[test]
    fn keys_change_with_exactly_what_they_cover() {
        let src = file_source(&Key::of_bytes(b"pixels"), crate::io::Reading::Auto);
        assert_ne!(
            src,
            file_source(&Key::of_bytes(b"pixels"), crate::io::Reading::Volume)
        );
        let g2 = Op::parse("gaussian:sigma=2").unwrap();
        let g3 = Op::parse("gaussian:sigma=3").unwrap();
        let a = task(&g2, &[src]);
        assert_eq!(
            a,
            task(&Op::parse("gaussian:sigma=2,truncate=4").unwrap(), &[src])
        );
        assert_ne!(a, task(&g3, &[src]));
        assert_ne!(
            a,
            task(
                &g2,
                &[file_source(
                    &Key::of_bytes(b"pixelz"),
                    crate::io::Reading::Auto
                )]
            )
        );
        assert_ne!(a, task(&Op::parse("box:size=2").unwrap(), &[src]));
        assert_ne!(output(&a, "x", "u8", "tif"), output(&a, "x", "u16", "tif"));
        assert_eq!(Key::from_hex(&a.hex()), Some(a));
    }

    #[test]
    fn image_keys_cover_shape_type_and_pixels() {
        let img = |w, h, s| Image::new(w, h, 1, s).unwrap();
        let a = image_source(&img(2, 3, Samples::U8(vec![1; 6])));
        assert_ne!(a, image_source(&img(3, 2, Samples::U8(vec![1; 6]))));
        assert_ne!(
            a,
            image_source(&img(2, 3, Samples::U8(vec![1, 1, 1, 1, 1, 2])))
        );
        assert_ne!(
            image_source(&img(1, 1, Samples::U16(vec![1]))),
            image_source(&img(2, 1, Samples::U8(vec![1, 0])))
        );
    }

    #[test]
    fn hash_file_hashes_every_read() {
        let dir = tempfile::tempdir().unwrap();
        // Empty, smaller than one read, and several reads (blake3 reads 64 KiB at a
        // time) with a partial last one.
        for len in [0, 1000, 3 * 65536 + 17] {
            let path = dir.path().join(format!("f{len}"));
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(hash_file(&path).unwrap(), Key::of_bytes(&data));
        }
        assert!(hash_file(&dir.path().join("missing")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn stamps_vouch_only_for_settled_unchanged_files() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif");
        std::fs::write(&path, b"pixels").unwrap();
        let stamp = |began: SystemTime| {
            let f = std::fs::File::open(&path).unwrap();
            FileStamp::of(&f, began)
        };
        let now = SystemTime::now();
        // Just written: a second write in the same clock tick could look the same.
        assert_eq!(stamp(now), None);
        let (bytes, fresh) = read_stamped(&path, |f| {
            let mut b = Vec::new();
            std::io::Read::read_to_end(f, &mut b).map(|_| b)
        })
        .unwrap();
        assert_eq!((bytes.unwrap().as_slice(), fresh), (&b"pixels"[..], None));
        assert_eq!(
            hash_stamped(&path).unwrap(),
            (Key::of_bytes(b"pixels"), None)
        );
        // Read as if well after the write: the stamp counts, and is stable.
        let later = now + Duration::from_secs(60);
        let settled = stamp(later).expect("settled file has a stamp");
        assert_eq!(stamp(later), Some(settled));
        // An edit that keeps the length moves mtime and ctime: not the same stamp. (The
        // mtime is set apart explicitly: two writes in one clock tick are the racy
        // case, which the 3 s rule keeps from being trusted.)
        std::fs::write(&path, b"pixelz").unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(now - Duration::from_secs(3600)).unwrap();
        let edited = stamp(now + Duration::from_secs(120)).expect("settled");
        assert_ne!(edited, settled);
        // A file replaced by another (a new inode) is not the same either.
        let other = dir.path().join("b.tif");
        std::fs::write(&other, b"pixels").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(stamp(now + Duration::from_secs(120)), Some(settled));
    }
}
