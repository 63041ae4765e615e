//! A local S3 server for the tests: `python/tests/s3server.py` (moto's
//! ThreadedMotoServer on 127.0.0.1, counting requests), started once per test binary
//! with the test venv's Python (`.venv`, made by `scripts/python-env`, or
//! `IMFLOW_TEST_PYTHON`). Without it, a test is skipped with a loud line, or fails where
//! `IMFLOW_REQUIRE_S3=1` (CI).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The bucket the server starts with.
pub const BUCKET: &str = "imflow-test";

pub struct S3Server {
    pub port: u16,
    _child: Mutex<(Child, ChildStdin)>,
}

fn python() -> PathBuf {
    std::env::var_os("IMFLOW_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    )
}

fn start() -> Result<S3Server, String> {
    let python = python();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/tests/s3server.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {e} (make it with scripts/python-env)",
                python.display()
            )
        })?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| {
            format!("the S3 server did not start (said {line:?}; is moto[server] installed?)")
        })?;
    let stdin = child.stdin.take().expect("piped");
    let server = S3Server {
        port,
        _child: Mutex::new((child, stdin)),
    };
    // The store's client reads its endpoint and credentials from the environment, once
    // per bucket: set them before any test of this binary opens one.
    for (k, v) in server.env() {
        std::env::set_var(k, v);
    }
    Ok(server)
}

/// The binary's server, started on first use; `None` (a skip) without moto.
pub fn s3(test: &str) -> Option<&'static S3Server> {
    static SERVER: OnceLock<Result<S3Server, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => Some(s),
        Err(e) if std::env::var("IMFLOW_REQUIRE_S3").as_deref() == Ok("1") => {
            panic!("IMFLOW_REQUIRE_S3=1 but no S3 test server for {test}: {e}")
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n*** SKIPPED S3 test `{test}`: {e}\n*** set IMFLOW_REQUIRE_S3=1 to make this a failure\n"
            );
            None
        }
    }
}

impl S3Server {
    /// The variables a client (this process's store, or a CLI child) needs.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The requests served so far, `(method, path?query)`, oldest first.
    pub fn requests(&self) -> Vec<(String, String)> {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            tcp,
            "GET /_imflow/requests HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .expect("ask");
        let mut text = String::new();
        tcp.read_to_string(&mut text).expect("answer");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("[]");
        serde_json::from_str(body).expect("a JSON log")
    }

    /// A fresh prefix in the bucket, `s3://imflow-test/<name>-<n>`.
    pub fn prefix(&self, name: &str) -> String {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("s3://{BUCKET}/{name}-{}-{n}", std::process::id())
    }
}

impl S3Server {
    /// One plain (unsigned) HTTP request to the server, as another tool would make it:
    /// the status and body.
    pub fn raw(&self, method: &str, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let key = url.strip_prefix("s3://").expect("an s3:// URL").to_string();
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            tcp,
            // moto wants some signature-shaped authorization (it checks none) and
            // takes an untyped body as opaque bytes.
            "{method} /{key} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\
             Content-Type: application/octet-stream\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=0\r\n\r\n",
            body.len()
        )
        .expect("send");
        tcp.write_all(body).expect("send");
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).expect("answer");
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(answer.len(), |i| i + 4);
        let status = String::from_utf8_lossy(&answer[..split])
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer[split..].to_vec())
    }

    /// The object's bytes, if it exists.
    pub fn get(&self, url: &str) -> Option<Vec<u8>> {
        match self.raw("GET", url, b"") {
            (200, body) => Some(body),
            _ => None,
        }
    }

    /// Keys under a prefix URL (recursively), by a plain list request.
    pub fn keys(&self, url: &str) -> Vec<String> {
        let rest = url.strip_prefix("s3://").expect("an s3:// URL");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (_, body) = self.raw("GET", &format!("s3://{bucket}?prefix={prefix}/"), b"");
        let text = String::from_utf8_lossy(&body);
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(|k| format!("s3://{bucket}/{k}"))
            .collect()
    }
}
