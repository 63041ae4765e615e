//! One file in, one file out, no cache (`imflow apply`): every page or frame through the
//! ops, written in the format the output's extension names. A TIFF too large for the
//! memory budget is streamed: read band by band, tiled, and written band by band.

use crate::backend::{OutputType, Processor};
use crate::engine::tiled::{RowSink, RowSource};
use crate::image::{Image, Rect, SampleType, Shape};
use crate::io::Reading;
use crate::io::{self, Format};
use crate::ops::Op;
use crate::{Error, Result};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};

/// What [`Processor::apply_file`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// Each frame's shape.
    pub shape: Shape,
    /// The source's sample type.
    pub source_type: SampleType,
    /// The output's sample type.
    pub output_type: SampleType,
    /// Frames (pages) processed.
    pub frames: usize,
    /// Per frame, the thresholds the threshold ops used.
    pub thresholds: Vec<Vec<f64>>,
    /// Whether the file was streamed (too large to hold whole).
    pub streamed: bool,
}

/// Frame `.1` of a TIFF, read part by part.
struct Frame<'p>(
    &'p mut io::tiff::TiffFrames<std::io::BufReader<std::fs::File>>,
    usize,
);

impl RowSource for Frame<'_> {
    fn rows(&mut self, part: Rect) -> Result<Image> {
        self.0.read(self.1, part)
    }
}

struct Send(SyncSender<Image>);

impl RowSink for Send {
    fn put(&mut self, band: Image) -> Result<()> {
        self.0
            .send(band)
            .map_err(|_| Error::encode("the output writer stopped"))
    }
}

impl Processor {
    /// Applies `ops` to every frame of `input` and writes `output` (atomically) in the
    /// format its extension names. A TIFF whose frames decode to more than a quarter of
    /// the memory budget is streamed through tiles into a TIFF output.
    pub fn apply_file(
        &self,
        input: &Path,
        output: &Path,
        ops: &[Op],
        out: OutputType,
    ) -> Result<Applied> {
        self.apply_file_as(input, output, ops, out, Reading::Auto)
    }

    /// [`Processor::apply_file`], a multi-page TIFF read as `reading` says (a plain one
    /// as a volume, say).
    pub fn apply_file_as(
        &self,
        input: &Path,
        output: &Path,
        ops: &[Op],
        out: OutputType,
        reading: Reading,
    ) -> Result<Applied> {
        let format = Format::from_path(output)?;
        let file = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
        let mut magic = [0u8; 4];
        let tiff = std::io::Read::read_exact(&mut &file, &mut magic).is_ok() && io::is_tiff(&magic);
        if tiff {
            let frames =
                io::tiff::TiffFrames::open(std::io::BufReader::new(file), u64::MAX, reading)
                    .map_err(|e| e.at(input))?;
            let bytes = frames.shape().samples_u64()
                * frames.sample_type().size() as u64
                * frames.frames() as u64;
            if bytes > self.budget().memory / 4 {
                if format != Format::Tiff {
                    return Err(Error::encode(format!(
                        "a {} {} image of {} MB is streamed, and only TIFF is written band by band; write a .tif",
                        frames.shape(),
                        frames.sample_type(),
                        bytes >> 20
                    ))
                    .at(output));
                }
                return self.stream(input, output, ops, out, reading);
            }
        }
        let stack = io::load_stack_as(input, reading)?;
        let (result, thresholds) = self.run_stack(&stack, ops, out)?;
        io::save_stack(&result, format, output)?;
        let first = &stack.frames[0];
        Ok(Applied {
            shape: first.shape(),
            source_type: first.sample_type(),
            output_type: result.frames[0].sample_type(),
            frames: stack.frames.len(),
            thresholds,
            streamed: false,
        })
    }

    fn stream(
        &self,
        input: &Path,
        output: &Path,
        ops: &[Op],
        out: OutputType,
        reading: Reading,
    ) -> Result<Applied> {
        let reader = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
        let mut frames_in =
            io::tiff::TiffFrames::open(std::io::BufReader::new(reader), u64::MAX, reading)
                .map_err(|e| e.at(input))?;
        let (shape, source_type, frames) = (
            frames_in.shape(),
            frames_in.sample_type(),
            frames_in.frames(),
        );
        let voxel = frames_in.layout().voxel.clone();
        let to = Processor::output_type(ops, source_type, out);
        let dir = match output.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let io_err = |e: std::io::Error| Error::io(output, e);
        let tmp = tempfile::Builder::new()
            .prefix(".imflow-tmp-")
            .tempfile_in(dir)
            .map_err(io_err)?;
        let mut thresholds = Vec::new();
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = sync_channel::<Image>(1);
            let file = tmp.as_file();
            let voxel = voxel.as_ref();
            let writer = scope.spawn(move || {
                let mut w = std::io::BufWriter::new(file);
                io::tiff::write_stream(&mut w, shape, to, frames, voxel, &mut || {
                    rx.recv()
                        .map_err(|_| Error::encode("the tiles stopped coming"))
                })?;
                std::io::Write::flush(&mut w).map_err(Error::encode_from)
            });
            let mut sink = Send(tx);
            for t in 0..frames {
                let got = self
                    .run_streamed(
                        shape,
                        source_type,
                        &mut Frame(&mut frames_in, t),
                        ops,
                        to,
                        &mut sink,
                    )
                    .map_err(|e| e.at(input))?;
                thresholds.push(got);
            }
            drop(sink);
            writer
                .join()
                .map_err(|_| Error::Crashed {
                    path: output.to_path_buf(),
                    what: "encoder",
                })?
                .map_err(|e| e.at(output))
        })?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(output).map_err(|e| io_err(e.error))?;
        Ok(Applied {
            shape,
            source_type,
            output_type: to,
            frames,
            thresholds,
            streamed: true,
        })
    }
}
