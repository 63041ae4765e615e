"""A local S3 server for the tests: moto's ThreadedMotoServer on 127.0.0.1 (no network
beyond loopback), counting the requests it serves so a test can prove, say, that a cached
re-run downloads no output.

In a test:  ``with S3Server() as s3: ...`` (``s3.env`` holds the AWS_* variables for a
client, ``s3.requests()`` the requests so far, by method and path).

As a process (the Rust tests start it this way):  ``python s3server.py`` prints
``PORT <n>`` on one line, then serves until its standard input closes.

``GET /_imflow/requests`` answers the log, ``[method, path?query]`` pairs, as JSON
(``?reset=1`` empties it after).
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any, Dict, List, Tuple

from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

LOG_PATH = "/_imflow/requests"
BUCKET = "imflow-test"


class _Quiet(WSGIRequestHandler):
    """No line per request on stderr (the log above keeps them)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class S3Server(ThreadedMotoServer):
    """ThreadedMotoServer on an ephemeral loopback port, with a request log."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._log: List[Tuple[str, str]] = []
        self._lock = threading.Lock()

    def _server_entry(self) -> None:  # moto's, with the app wrapped
        # moto answers 500 to concurrent puts of one key now and then (its old value's
        # buffer closed under another thread); clients retry, as against S3, but
        # werkzeug would print each traceback.
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        inner = DomainDispatcherApplication(create_backend_app)

        def app(environ: Dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO", "")
            if path == LOG_PATH:
                with self._lock:
                    body = json.dumps(self._log).encode()
                    if "reset=1" in environ.get("QUERY_STRING", ""):
                        self._log = []
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            query = environ.get("QUERY_STRING", "")
            with self._lock:
                self._log.append((environ["REQUEST_METHOD"], path + ("?" + query if query else "")))
            return inner(environ, start_response)

        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_Quiet)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def port(self) -> int:
        return self.get_host_and_port()[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> Dict[str, str]:
        """What a client needs: the endpoint and any credentials (moto accepts any)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # Never ask an instance metadata service (not on loopback) for credentials.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def requests(self, reset: bool = False) -> List[Tuple[str, str]]:
        with self._lock:
            log = list(self._log)
            if reset:
                self._log = []
        return [(m, p) for m, p in log]

    def make_bucket(self, name: str = BUCKET) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)
        return name

    def __enter__(self) -> "S3Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main() -> None:
    server = S3Server()
    server.start()
    server.make_bucket()
    print(f"PORT {server.port}", flush=True)
    sys.stdin.read()  # until the parent closes our input (or dies)
    server.stop()


if __name__ == "__main__":
    main()
