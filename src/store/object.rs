//! A store space on object storage (S3 and S3-compatible servers; GCS and Azure with
//! their features), through the `object_store` crate.
//!
//! `object_store` is async; imflow is not. One small tokio runtime (two workers), made
//! on first use and owned by this module, runs every request: the executor's threads
//! block on it, and the HTTP clients (one per bucket, shared by stores and sources)
//! keep their connections on it for the life of the process.
//!
//! Configuration comes from the environment, as every AWS tool reads it:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`
//! (default `us-east-1`), and `AWS_ENDPOINT_URL` for MinIO, Ceph or a test server (an
//! `http://` endpoint is allowed as given). GCS and Azure read their own
//! (`GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...).
//!
//! Outputs are put with their blake3 as user metadata (`x-amz-meta-blake3`), so a cache
//! hit is one `HEAD`: the size and that checksum must be the record's. Objects over
//! [`MULTIPART_THRESHOLD`] are uploaded in parts; none is visible before it completes.

use super::location::{ObjectUrl, Service};
use super::space::{LocalFile, Space};
use crate::key::Key;
use crate::{Error, Result};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions,
    PutOptions, PutPayload, WriteMultipart,
};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Outputs larger than this are uploaded in parts (S3's smallest part is 5 MiB).
pub const MULTIPART_THRESHOLD: u64 = 5 << 20;
/// Parts uploading at once, per output.
const PARTS_IN_FLIGHT: usize = 4;
/// The user metadata key holding an output's blake3.
const CHECKSUM: &str = "blake3";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("imflow-objects")
            .enable_all()
            .build()
            .expect("a tokio runtime (threads and an I/O driver)")
    })
}

/// Runs a request to completion from synchronous code. From inside another tokio
/// runtime (an embedder's `spawn_blocking`), where blocking on ours would panic, it
/// runs on a thread of its own.
fn block_on<F: std::future::Future + Send>(f: F) -> F::Output
where
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(f))
                .join()
                .expect("object store request thread")
        })
    } else {
        runtime().block_on(f)
    }
}

/// Clients by service and bucket.
type Clients = HashMap<(Service, String), Arc<dyn ObjectStore>>;

/// The client of a bucket, made once per process from the environment.
pub fn client(url: &ObjectUrl) -> Result<Arc<dyn ObjectStore>> {
    static CLIENTS: OnceLock<Mutex<Clients>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Mutex::default);
    let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
    let id = (url.service, url.bucket.clone());
    if let Some(c) = clients.get(&id) {
        return Ok(Arc::clone(c));
    }
    let made = build(url).map_err(|e| remote(url, e))?;
    clients.insert(id, Arc::clone(&made));
    Ok(made)
}

fn retry() -> object_store::RetryConfig {
    // Fail within a minute rather than the crate's default three: a store that does
    // not answer is a configuration problem a user should hear about.
    object_store::RetryConfig {
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
        ..Default::default()
    }
}

fn build(url: &ObjectUrl) -> object_store::Result<Arc<dyn ObjectStore>> {
    match url.service {
        #[cfg(feature = "s3")]
        Service::S3 => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(&url.bucket)
                .with_retry(retry());
            let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .or_else(|_| std::env::var("AWS_ENDPOINT"));
            if let Ok(e) = endpoint {
                // A plain-HTTP endpoint given on purpose (a local MinIO or test server).
                b = b
                    .with_endpoint(&e)
                    .with_allow_http(e.starts_with("http://"));
            }
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err()
            {
                b = b.with_region("us-east-1");
            }
            Ok(Arc::new(b.build()?))
        }
        #[cfg(feature = "gcs")]
        Service::Gcs => Ok(Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&url.bucket)
                .with_retry(retry())
                .build()?,
        )),
        #[cfg(feature = "azure")]
        Service::Azure => Ok(Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(&url.bucket)
                .with_retry(retry())
                .build()?,
        )),
        #[allow(unreachable_patterns)]
        other => Err(object_store::Error::NotSupported {
            source: format!("imflow was built without the `{}` feature", other.feature()).into(),
        }),
    }
}

fn remote(url: &ObjectUrl, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::io(
            url.url(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such object"),
        ),
        e => Error::Remote {
            url: url.url(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        },
    }
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn checksum_attributes(hash: &Key) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::Metadata(CHECKSUM.into()), hash.hex().into());
    a
}

/// A prefix in a bucket, as a store space.
#[derive(Debug)]
pub(crate) struct ObjectSpace {
    url: ObjectUrl,
    store: Arc<dyn ObjectStore>,
}

impl ObjectSpace {
    pub fn open(url: &ObjectUrl) -> Result<Self> {
        Ok(ObjectSpace {
            url: url.clone(),
            store: client(url)?,
        })
    }

    fn path(&self, rel: &str) -> ObjectPath {
        ObjectPath::from(self.url.key(rel))
    }

    fn err(&self, rel: &str, e: object_store::Error) -> Error {
        remote(&self.url.join(rel), e)
    }

    /// Whether an intact copy of `rel` is there (its size and recorded checksum).
    fn intact(&self, rel: &str, size: u64, hash: &Key) -> Result<()> {
        let url = self.url.join(rel);
        let got =
            block_on((self.store).get_opts(&self.path(rel), GetOptions::new().with_head(true)))
                .map_err(|e| remote(&url, e))?;
        let recorded = got.attributes.get(&Attribute::Metadata(CHECKSUM.into()));
        if got.meta.size != size || recorded.map(|v| v.as_ref()) != Some(hash.hex().as_str()) {
            return Err(Error::Corrupt {
                path: PathBuf::from(url.url()),
            });
        }
        Ok(())
    }

    /// Streams the object through `sink`, hashing it; fails unless it hashes to `hash`.
    fn download(&self, rel: &str, hash: &Key, mut sink: impl Write + Send) -> Result<()> {
        let url = self.url.join(rel);
        let path = self.path(rel);
        let hasher = block_on(async {
            let got = self.store.get(&path).await?;
            let mut stream = got.into_stream();
            let mut hasher = blake3::Hasher::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                sink.write_all(&chunk)
                    .map_err(|e| object_store::Error::Generic {
                        store: "imflow",
                        source: Box::new(e),
                    })?;
            }
            Ok::<_, object_store::Error>(hasher)
        })
        .map_err(|e| remote(&url, e))?;
        if Key::from_hex(&hasher.finalize().to_hex()) != Some(*hash) {
            return Err(Error::Corrupt {
                path: PathBuf::from(url.url()),
            });
        }
        Ok(())
    }

    /// Puts `size` bytes read from `reader` with the checksum metadata: in one request,
    /// or in parts over [`MULTIPART_THRESHOLD`].
    fn upload(&self, rel: &str, mut reader: impl Read + Send, size: u64, hash: &Key) -> Result<()> {
        let path = self.path(rel);
        let attributes = checksum_attributes(hash);
        let result = block_on(async {
            if size <= MULTIPART_THRESHOLD {
                let mut bytes = Vec::with_capacity(size as usize);
                reader.read_to_end(&mut bytes).map_err(generic)?;
                let opts = PutOptions {
                    attributes,
                    ..Default::default()
                };
                self.store
                    .put_opts(&path, PutPayload::from(bytes), opts)
                    .await?;
                return Ok(());
            }
            let opts = PutMultipartOptions {
                attributes,
                ..Default::default()
            };
            let upload = self.store.put_multipart_opts(&path, opts).await?;
            // S3 takes at most 10,000 parts.
            let part = (MULTIPART_THRESHOLD as usize).max((size / 9_000) as usize + 1);
            let mut writer = WriteMultipart::new_with_chunk_size(upload, part);
            let mut buf = vec![0u8; part];
            loop {
                let n = read_full(&mut reader, &mut buf).map_err(generic)?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.write(&buf[..n]);
            }
            writer.finish().await?;
            Ok::<_, object_store::Error>(())
        });
        result.map_err(|e| self.err(rel, e))
    }
}

fn generic(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "imflow",
        source: Box::new(e),
    }
}

/// Reads until `buf` is full or the reader ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl Space for ObjectSpace {
    fn locate(&self, rel: &str) -> PathBuf {
        PathBuf::from(self.url.join(rel).url())
    }

    fn prepare(&self, _dirs: &[&str]) -> Result<()> {
        Ok(()) // prefixes need no creating
    }

    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(rel);
        match block_on(async { self.store.get(&path).await?.bytes().await }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let payload = PutPayload::from(bytes.to_vec());
        block_on(self.store.put(&self.path(rel), payload))
            .map(|_| ())
            .map_err(|e| self.err(rel, e))
    }

    fn create(&self, rel: &str, bytes: &[u8]) -> Result<bool> {
        let payload = PutPayload::from(bytes.to_vec());
        let opts = PutOptions::from(PutMode::Create);
        match block_on(self.store.put_opts(&self.path(rel), payload, opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = self.path(dir);
        let listed = block_on(self.store.list_with_delimiter(Some(&prefix)))
            .map_err(|e| self.err(dir, e))?;
        Ok(listed
            .objects
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_string))
            .collect())
    }

    fn remove(&self, rel: &str) -> Result<bool> {
        match block_on(self.store.delete(&self.path(rel))) {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    fn put_output(&self, rel: &str, bytes: &[u8], hash: &Key) -> Result<()> {
        if self.intact(rel, bytes.len() as u64, hash).is_ok() {
            return Ok(());
        }
        self.upload(rel, bytes, bytes.len() as u64, hash)
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        let dir = std::env::temp_dir();
        tempfile::Builder::new()
            .prefix(".imflow-tmp-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(dir, e))
    }

    fn put_output_file(
        &self,
        rel: &str,
        tmp: tempfile::NamedTempFile,
        hash: &Key,
        size: u64,
    ) -> Result<()> {
        if self.intact(rel, size, hash).is_ok() {
            return Ok(());
        }
        let file = tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?;
        self.upload(rel, std::io::BufReader::new(file), size, hash)
    }

    fn check_output(&self, rel: &str, size: u64, hash: &Key) -> Result<()> {
        self.intact(rel, size, hash)
    }

    fn verify_output(&self, rel: &str, hash: &Key) -> Result<()> {
        self.download(rel, hash, std::io::sink())
    }

    fn fetch_output(&self, rel: &str, hash: &Key) -> Result<LocalFile> {
        let tmp = self.temp_file()?;
        let io = |e: std::io::Error| Error::io(tmp.path(), e);
        {
            let mut w = std::io::BufWriter::new(tmp.as_file());
            self.download(rel, hash, &mut w)?;
            w.flush().map_err(io)?;
        }
        Ok(LocalFile::temporary(tmp.into_temp_path()))
    }

    fn remove_stale_temps(&self, _dirs: &[&str], _age: Duration) -> usize {
        0 // an object is visible only once its put completed
    }
}

/// Downloads a source object to a local temporary file (removed once dropped).
pub fn fetch_source(url: &ObjectUrl) -> Result<LocalFile> {
    let store = client(url)?;
    let dir = std::env::temp_dir();
    let name = format!(".imflow-src-{}-", url.name());
    let tmp = tempfile::Builder::new()
        .prefix(&name)
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    let path = ObjectPath::from(url.prefix.as_str());
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        let sink = &mut w;
        block_on(async {
            let mut stream = store.get(&path).await?.into_stream();
            while let Some(chunk) = stream.next().await {
                sink.write_all(&chunk?).map_err(generic)?;
            }
            Ok::<_, object_store::Error>(())
        })
        .map_err(|e| remote(url, e))?;
        w.flush().map_err(|e| Error::io(tmp.path(), e))?;
    }
    Ok(LocalFile::temporary(tmp.into_temp_path()))
}

/// The objects an input URL names: a prefix ending in `/` gives the objects directly
/// under it (not deeper, hidden names skipped), a URL with `*`, `?` or `[` the objects
/// its glob matches (`**` reaching deeper), and any other URL the object itself if it
/// exists, else the objects under it as a prefix, else itself (reported missing later).
pub fn list_inputs(url: &ObjectUrl, text: &str) -> Result<Vec<ObjectUrl>> {
    let store = client(url)?;
    let of = |key: &str| ObjectUrl {
        prefix: key.to_string(),
        ..url.clone()
    };
    let hidden = |key: &str| key.rsplit('/').next().is_some_and(|n| n.starts_with('.'));
    let children = |prefix: &str| -> Result<Vec<ObjectUrl>> {
        let p = ObjectPath::from(prefix);
        let listed = block_on(store.list_with_delimiter(Some(&p))).map_err(|e| remote(url, e))?;
        Ok(listed
            .objects
            .iter()
            .map(|m| m.location.to_string())
            .filter(|k| !hidden(k))
            .map(|k| of(&k))
            .collect())
    };
    if let Some(first) = url.prefix.find(['*', '?', '[']) {
        let pattern = glob::Pattern::new(&url.prefix)
            .map_err(|e| Error::usage(format!("{text}: bad glob: {e}")))?;
        let base = match url.prefix[..first].rfind('/') {
            Some(i) => &url.prefix[..i],
            None => "",
        };
        let base = (!base.is_empty()).then(|| ObjectPath::from(base));
        let options = glob::MatchOptions {
            require_literal_separator: true,
            require_literal_leading_dot: true,
            ..Default::default()
        };
        let keys: Vec<String> = block_on(async {
            let mut s = store.list(base.as_ref());
            let mut keys = Vec::new();
            while let Some(m) = s.next().await {
                keys.push(m?.location.to_string());
            }
            Ok::<_, object_store::Error>(keys)
        })
        .map_err(|e| remote(url, e))?;
        return Ok(keys
            .iter()
            .filter(|k| pattern.matches_with(k, options))
            .map(|k| of(k))
            .collect());
    }
    if text.ends_with('/') || url.prefix.is_empty() {
        return children(&url.prefix);
    }
    match block_on(store.head(&ObjectPath::from(url.prefix.as_str()))) {
        Ok(_) => Ok(vec![url.clone()]),
        Err(e) if is_not_found(&e) => {
            let under = children(&url.prefix)?;
            Ok(if under.is_empty() {
                vec![url.clone()]
            } else {
                under
            })
        }
        Err(e) => Err(remote(url, e)),
    }
}

/// The Zarr storage of an object prefix (an OME-Zarr image on S3, say): the bucket's
/// client under the prefix, through `zarrs_object_store`, its requests run to completion
/// on this module's runtime (so, as every other request here, not from inside another
/// tokio runtime).
#[cfg(feature = "ome-zarr")]
pub(crate) fn zarr_storage(
    url: &ObjectUrl,
) -> Result<zarrs::storage::ReadableWritableListableStorage> {
    use zarrs::storage::storage_adapter::async_to_sync::{
        AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
    };
    struct OnRuntime;
    impl AsyncToSyncBlockOn for OnRuntime {
        fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
            runtime().block_on(future)
        }
    }
    let prefixed = object_store::prefix::PrefixStore::new(client(url)?, url.prefix.as_str());
    let store = Arc::new(zarrs_object_store::AsyncObjectStore::new(prefixed));
    Ok(Arc::new(AsyncToSyncStorageAdapter::new(store, OnRuntime)))
}
