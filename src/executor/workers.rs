//! The run's two thread pools: sources decoded ahead of the engine, outputs encoded and
//! written behind it, so codec work overlaps compute and memory stays bounded. A worker
//! that panics on a file (a codec bug) fails that file, not the run.

use super::source::Source;
use crate::image::{SampleType, Shape};
use crate::io::{self, Stack};
use crate::store::{Draft, Hit, LocalFile, Store};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Condvar, Mutex};

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What to read for a node.
#[derive(Clone, Debug)]
pub(crate) enum Fetch {
    /// A source file, checked against its key.
    Decode(Source),
    /// A stored output (checked when it was looked up), fetched from its store: read
    /// where it lies on disk, downloaded and verified from an object store.
    Load(Store, Box<Hit>),
}

impl Fetch {
    /// The file (or object) read, for messages.
    fn path(&self) -> PathBuf {
        match self {
            Fetch::Decode(s) => s.path().to_path_buf(),
            Fetch::Load(_, hit) => hit.path.clone(),
        }
    }

    fn source(&self) -> Option<&Source> {
        match self {
            Fetch::Decode(s) => Some(s),
            Fetch::Load(..) => None,
        }
    }

    /// How the file's pages are read: a source's own way; a stored output's by what
    /// it says (volumes are stored as hyperstacks).
    fn reading(&self) -> io::Reading {
        self.source().map_or(io::Reading::Auto, Source::reading)
    }

    /// Reads the file whole, or, for a TIFF whose pages together decode to more than
    /// `whole_limit` bytes, only its header: it will be streamed.
    fn run(&self, whole_limit: u64) -> Result<Fetched> {
        if let Fetch::Decode(s) = self {
            if s.is_zarr() {
                // An OME-Zarr image has no file to probe: decoded whole.
                return Ok(Fetched::Whole(s.decode()?));
            }
        }
        let local = match self {
            Fetch::Decode(s) => s.local().clone(),
            Fetch::Load(store, hit) => store.fetch(hit)?,
        };
        let path = local.path();
        if let Some(lazy) = LazyTiff::probe(&local, self.source().cloned(), self.reading())? {
            if lazy.bytes() > whole_limit {
                log::debug!(
                    "{}: {} bytes decoded, over {whole_limit}: streamed",
                    path.display(),
                    lazy.bytes()
                );
                return Ok(Fetched::Lazy(lazy));
            }
        }
        Ok(Fetched::Whole(match self {
            Fetch::Decode(s) => s.decode()?,
            Fetch::Load(_, hit) => io::load_stack(path).map_err(|e| e.at(&hit.path))?,
        }))
    }
}

/// What a reader hands over: a decoded file, or a TIFF too large to decode whole.
#[derive(Debug)]
pub(crate) enum Fetched {
    Whole(Stack),
    Lazy(LazyTiff),
}

/// A TIFF to stream: its frames' shape (a volume's, for a volume) and type, how its
/// pages are read, and (for a source) its key, to check the bytes streamed are the
/// keyed ones.
#[derive(Clone, Debug)]
pub(crate) struct LazyTiff {
    pub path: PathBuf,
    /// Keeps a downloaded copy until the TIFF is streamed.
    _file: LocalFile,
    pub shape: Shape,
    pub sample_type: SampleType,
    pub frames: usize,
    pub reading: io::Reading,
    pub voxel: Option<crate::image::VoxelSize>,
    pub source: Option<Source>,
}

impl LazyTiff {
    /// The header of a TIFF (every page's), or `None` for another format.
    fn probe(
        local: &LocalFile,
        source: Option<Source>,
        reading: io::Reading,
    ) -> Result<Option<LazyTiff>> {
        let path = local.path();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut magic = [0u8; 4];
        if std::io::Read::read_exact(&mut &file, &mut magic).is_err() || !io::is_tiff(&magic) {
            return Ok(None);
        }
        let frames = io::tiff::TiffFrames::open(std::io::BufReader::new(file), u64::MAX, reading)
            .map_err(|e| e.at(path))?;
        Ok(Some(LazyTiff {
            path: path.to_path_buf(),
            _file: local.clone(),
            shape: frames.shape(),
            sample_type: frames.sample_type(),
            frames: frames.frames(),
            reading,
            voxel: frames.layout().voxel.clone(),
            source,
        }))
    }

    /// Bytes all frames decode to.
    pub fn bytes(&self) -> u64 {
        self.shape.samples_u64() * self.sample_type.size() as u64 * self.frames as u64
    }

    /// The frames, to read part by part; a strip or tile decodes to at most
    /// `chunk_limit` bytes.
    pub fn open(
        &self,
        chunk_limit: u64,
    ) -> Result<io::tiff::TiffFrames<std::io::BufReader<std::fs::File>>> {
        let path = &self.path;
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        io::tiff::TiffFrames::open(std::io::BufReader::new(file), chunk_limit, self.reading)
            .map_err(|e| e.at(path))
    }
}

/// Files read ahead by worker threads, at most `lookahead` beyond the one the run is
/// waiting for, so memory stays bounded however many files a flow has. TIFFs larger than
/// `whole_limit` decoded are not read here: they are streamed when their turn comes.
pub(crate) struct Prefetch {
    order: Vec<(usize, Fetch)>,
    lookahead: usize,
    whole_limit: u64,
    state: Mutex<PrefetchState>,
    ready: Condvar,
}

#[derive(Default)]
struct PrefetchState {
    next: usize,
    taken: usize,
    stop: bool,
    done: HashMap<usize, Result<Fetched>>,
}

impl Prefetch {
    /// Reads for `(node, what)` in this order, `lookahead` ahead.
    pub fn new(order: Vec<(usize, Fetch)>, lookahead: usize, whole_limit: u64) -> Self {
        Prefetch {
            order,
            lookahead: lookahead.max(1),
            whole_limit,
            state: Mutex::default(),
            ready: Condvar::new(),
        }
    }

    /// Files to read.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// One worker's loop; returns when everything is read or the run stops.
    pub fn worker(&self) {
        loop {
            let (node, fetch) = {
                let mut st = lock(&self.state);
                while !st.stop && st.next < self.order.len() && st.next >= st.taken + self.lookahead
                {
                    st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop || st.next >= self.order.len() {
                    return;
                }
                st.next += 1;
                self.order[st.next - 1].clone()
            };
            let limit = self.whole_limit;
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fetch.run(limit)))
                    .unwrap_or_else(|_| {
                        Err(Error::Crashed {
                            path: fetch.path(),
                            what: "decoder",
                        })
                    });
            lock(&self.state).done.insert(node, result);
            self.ready.notify_all();
        }
    }

    /// The read file of `node`, waiting for a worker if need be; `None` for a node not
    /// in the order.
    pub fn take(&self, node: usize) -> Option<Result<Fetched>> {
        let position = self.order.iter().position(|(n, _)| *n == node)?;
        let mut st = lock(&self.state);
        loop {
            if let Some(r) = st.done.remove(&node) {
                // By position, so a file never asked for cannot hold the others back.
                st.taken = st.taken.max(position + 1);
                self.ready.notify_all();
                return Some(r);
            }
            if st.stop {
                return None;
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends the workers' loops.
    pub fn stop(&self) {
        lock(&self.state).stop = true;
        self.ready.notify_all();
    }
}

/// An output to encode and commit off the engine's thread.
pub(crate) struct EncodeJob {
    pub node: usize,
    pub payload: Payload,
    pub draft: Draft,
}

/// What an encode job writes.
pub(crate) enum Payload {
    /// Image frames, in the draft's format.
    Image(Stack),
    /// A measurement table, as CSV text, of this many frames.
    Table { csv: String, frames: usize },
}

/// Encodes and writes jobs until the sender goes away, sending each result to `done`.
/// `write` is the store's (a test passes its own).
pub(crate) fn encode_worker(
    jobs: &Mutex<Receiver<EncodeJob>>,
    done: Sender<(usize, Result<Hit>)>,
    write: &(dyn Fn(&EncodeJob) -> Result<Hit> + Sync),
    out_dir: &std::path::Path,
) {
    loop {
        let job = match lock(jobs).recv() {
            Ok(j) => j,
            Err(_) => return, // the run has sent everything
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write(&job)))
            .unwrap_or_else(|_| {
                Err(Error::Crashed {
                    path: out_dir.join(&job.draft.name),
                    what: "encoder",
                })
            });
        if done.send((job.node, result)).is_err() {
            return;
        }
    }
}

/// The store's write, as the encode workers call it.
pub(crate) fn store_write(store: &Store) -> impl Fn(&EncodeJob) -> Result<Hit> + Sync + '_ {
    move |job: &EncodeJob| match &job.payload {
        Payload::Image(stack) => store.write(job.draft.clone(), stack),
        Payload::Table { csv, frames } => store.write_table(job.draft.clone(), csv, *frames),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// An encoder that panics fails its output with an error naming it; the worker
    /// goes on with the next job (a panic once ended the whole run).
    #[test]
    fn a_panicking_encoder_fails_its_output_only() {
        let (tx, rx) = channel();
        let (done_tx, done_rx) = channel();
        let stack = Stack::single(crate::Image::gray(1, 1, crate::Samples::U8(vec![0])).unwrap());
        for (node, name) in [(3, "boom"), (4, "fine")] {
            let mut draft = Draft::example();
            draft.name = name.into();
            tx.send(EncodeJob {
                node,
                payload: Payload::Image(stack.clone()),
                draft,
            })
            .unwrap();
        }
        drop(tx);
        let write = |job: &EncodeJob| -> Result<Hit> {
            if job.draft.name == "boom" {
                panic!("codec bug");
            }
            Err(Error::encode("stub"))
        };
        let out = std::path::Path::new("/out");
        std::thread::scope(|s| {
            s.spawn(|| encode_worker(&Mutex::new(rx), done_tx, &write, out));
        });
        let results: Vec<(usize, Result<Hit>)> = done_rx.iter().collect();
        assert_eq!(results.len(), 2);
        let e = results[0].1.as_ref().unwrap_err();
        assert!(
            matches!(e, Error::Crashed { what: "encoder", path } if path == &out.join("boom")),
            "{e}"
        );
        assert!(matches!(results[1].1, Err(Error::Encode { .. })));
    }
}
