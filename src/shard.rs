//! Sharding an input list over N workers started by an engine users already run
//! (Slurm job arrays, Kubernetes Indexed Jobs, AWS Batch array jobs): each worker runs
//! `imflow run --shard K/N` (or `--shard auto`, which reads its index from the engine's
//! environment) over the same inputs and store, and takes the inputs of its part.
//!
//! An input's part is the blake3 of its file name modulo N: the same on every machine
//! (whatever the mount point, or a local path versus an object URL), disjoint and
//! complete, and stable when files are added (by name, not by position in the list).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Part `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` (K 0-based, below N).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |why: &str| Error::usage(format!("--shard {text}: {why}"));
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected K/N (e.g. 0/4) or auto"))?;
        let k: u32 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: u32 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Self::new(k, n).map_err(|e| bad(&e))
    }

    fn new(index: u32, count: u32) -> std::result::Result<Shard, String> {
        if count == 0 {
            return Err("N must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "K is 0-based and must be below N ({index} >= {count})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard an array job's environment gives (`--shard auto`), read through `var`:
    /// - Slurm: `SLURM_ARRAY_TASK_ID`, with `SLURM_ARRAY_TASK_MIN` (default 0),
    ///   `SLURM_ARRAY_TASK_STEP` (default 1) and `SLURM_ARRAY_TASK_COUNT` (else from
    ///   `SLURM_ARRAY_TASK_MAX`), so `--array=1-8` and `--array=0-30:10` both work;
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` with `IMFLOW_SHARD_COUNT`;
    /// - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX` with `IMFLOW_SHARD_COUNT`.
    ///
    /// `IMFLOW_SHARD_COUNT`, where set, is the count for Slurm too.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let num =
            |name: &str| -> Result<Option<i64>> {
                match var(name).filter(|v| !v.trim().is_empty()) {
                    None => Ok(None),
                    Some(v) => v.trim().parse().map(Some).map_err(|_| {
                        Error::usage(format!("--shard auto: {name}={v} is not a number"))
                    }),
                }
            };
        let count_var = num("IMFLOW_SHARD_COUNT")?;
        let (index, count, engine) = if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            let count = match (count_var, num("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => match num("SLURM_ARRAY_TASK_MAX")? {
                    Some(max) => (max - min) / step + 1,
                    None => {
                        return Err(Error::usage(
                            "--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX",
                        ))
                    }
                },
            };
            ((id - min) / step, count, "SLURM_ARRAY_TASK_ID")
        } else if let Some((name, index)) = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"]
            .iter()
            .find_map(|n| num(n).transpose().map(|i| i.map(|i| (*n, i))))
            .transpose()?
        {
            let count = count_var.ok_or_else(|| {
                Error::usage(format!(
                    "--shard auto: {name} is set; set IMFLOW_SHARD_COUNT to the number of shards (the job's completions or array size)"
                ))
            })?;
            (index, count, name)
        } else {
            return Err(Error::usage(
                "--shard auto: no array job index in the environment (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX)",
            ));
        };
        let fits = |v: i64| u32::try_from(v).ok();
        match (fits(index), fits(count)) {
            (Some(k), Some(n)) => Self::new(k, n),
            _ => Err(format!("index {index} of {count} is out of range")),
        }
        .map_err(|why| Error::usage(format!("--shard auto ({engine}): {why}")))
    }

    /// [`Shard::from_env_with`] over the process's environment.
    pub fn from_env() -> Result<Shard> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Whether `input` belongs to this shard.
    pub fn contains(&self, input: &Path) -> bool {
        shard_of(input, self.count) == self.index
    }

    /// The inputs of this shard, in their order.
    pub fn select(&self, inputs: Vec<PathBuf>) -> Vec<PathBuf> {
        inputs.into_iter().filter(|p| self.contains(p)).collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Which of `n` shards an input belongs to: blake3 of its file name, modulo `n`.
pub fn shard_of(input: &Path, n: u32) -> u32 {
    let name = input.file_name().map_or_else(
        || input.to_string_lossy().into_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let hash = blake3::hash(name.as_bytes());
    let word = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
    (word % u64::from(n.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Shards are disjoint and complete, and a file keeps its shard when others are
    /// added (by name, not by position) or when it sits elsewhere.
    #[test]
    fn shards_are_stable_by_name() {
        let names: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/d/img{i}.tif")))
            .collect();
        let parts: Vec<Vec<PathBuf>> = (0..3)
            .map(|k| Shard::new(k, 3).unwrap().select(names.clone()))
            .collect();
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 200);
        for p in &parts {
            assert!(p.len() > 40, "roughly even: {}", p.len());
        }
        let mut more = names.clone();
        more.extend((200..260).map(|i| PathBuf::from(format!("/d/img{i}.tif"))));
        for (k, p) in parts.iter().enumerate() {
            let again = Shard::new(k as u32, 3).unwrap().select(more.clone());
            assert!(p.iter().all(|f| again.contains(f)));
        }
        assert_eq!(
            shard_of(Path::new("/mnt/a/img7.tif"), 3),
            shard_of(Path::new("s3://lab/raw/img7.tif"), 3)
        );
    }

    #[test]
    fn parse_and_environments() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["3/3", "1", "a/3", "0/0"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(matches!(e, Error::Usage { .. }), "{bad}: {e}");
        }
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Shard::from_env_with(move |k| m.get(k).cloned())
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
        ]);
        assert_eq!(slurm.unwrap(), Shard { index: 2, count: 3 });
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "20"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(stepped.unwrap(), Shard { index: 2, count: 4 });
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("IMFLOW_SHARD_COUNT", "5")]);
        assert_eq!(k8s.unwrap(), Shard { index: 0, count: 5 });
        let batch = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "4"),
            ("IMFLOW_SHARD_COUNT", "5"),
        ]);
        assert_eq!(batch.unwrap(), Shard { index: 4, count: 5 });
        for (pairs, needle) in [
            (&[("JOB_COMPLETION_INDEX", "0")][..], "IMFLOW_SHARD_COUNT"),
            (&[][..], "no array job index"),
            (
                &[("JOB_COMPLETION_INDEX", "5"), ("IMFLOW_SHARD_COUNT", "5")][..],
                "below N",
            ),
        ] {
            let e = env(pairs).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
