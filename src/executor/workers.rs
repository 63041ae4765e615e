//! The run's two thread pools: sources decoded ahead of the engine, outputs encoded and
//! written behind it, so codec work overlaps compute and memory stays bounded. A worker
//! that panics on a file (a codec bug) fails that file, not the run.

use super::source::Source;
use crate::io::{self, Stack};
use crate::store::{Draft, Hit, Store};
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
    /// A stored output file (verified when it was looked up).
    Load(PathBuf),
}

impl Fetch {
    fn path(&self) -> PathBuf {
        match self {
            Fetch::Decode(s) => s.path().to_path_buf(),
            Fetch::Load(p) => p.clone(),
        }
    }

    fn run(&self) -> Result<Stack> {
        match self {
            Fetch::Decode(s) => s.decode(),
            Fetch::Load(p) => io::load_stack(p),
        }
    }
}

/// Files read ahead by worker threads, at most `lookahead` beyond the one the run is
/// waiting for, so memory stays bounded however many files a flow has.
pub(crate) struct Prefetch {
    order: Vec<(usize, Fetch)>,
    lookahead: usize,
    state: Mutex<PrefetchState>,
    ready: Condvar,
}

#[derive(Default)]
struct PrefetchState {
    next: usize,
    taken: usize,
    stop: bool,
    done: HashMap<usize, Result<Stack>>,
}

impl Prefetch {
    /// Reads for `(node, what)` in this order, `lookahead` ahead.
    pub fn new(order: Vec<(usize, Fetch)>, lookahead: usize) -> Self {
        Prefetch {
            order,
            lookahead: lookahead.max(1),
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
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fetch.run()))
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
    pub fn take(&self, node: usize) -> Option<Result<Stack>> {
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
    pub stack: Stack,
    pub draft: Draft,
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
    move |job: &EncodeJob| store.write(job.draft.clone(), &job.stack)
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
                stack: stack.clone(),
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
