"""A real S3-compatible server on 127.0.0.1 for the session: SeaweedFS (`weed mini`).

Started once per test session on free ports with its own data folder and an identities file,
and stopped at the end. Also a tiny TCP proxy that can delay, drop or answer 503, placed between
boto3 and the server for fault tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import pytest

ACCESS_KEY, SECRET_KEY = "agiqa-test-access", "agiqa-test-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class S3Server:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = "us-east-1"

    def client(self, endpoint: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

    def make_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}


def _weed() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "weed")
    return path if os.path.exists(path) else shutil.which("weed") or "weed"


def start_seaweedfs(d) -> tuple[subprocess.Popen, S3Server]:
    """Start `weed mini` on free 127.0.0.1 ports with data under `d`; wait until S3 answers."""
    from pathlib import Path

    d = Path(d)
    cfg = {"identities": [{"name": "agiqa", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                           "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    (d / "s3.json").write_text(json.dumps(cfg))
    s3, master, volume, filer, admin = free_ports(5)
    cmd = [_weed(), "mini", f"-dir={d / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-s3.config={d / 's3.json'}", f"-s3.port={s3}", f"-master.port={master}", f"-volume.port={volume}",
           f"-filer.port={filer}", f"-admin.port={admin}", "-webdav=false", "-admin.ui=false"]
    (d / "data").mkdir(exist_ok=True)
    with open(d / "weed.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=d)
    server = S3Server(endpoint=f"http://127.0.0.1:{s3}")
    deadline = time.time() + 60
    while True:
        try:
            server.client().list_buckets()
            return proc, server
        except Exception:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"SeaweedFS did not start: {(d / 'weed.log').read_text()[-3000:]}") from None
            time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    proc, server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    stop(proc)


class FaultProxy:
    """TCP proxy to `target`; `mode` is 'pass', 'delay', 'drop' (close mid-response) or '503'.

    `faults` counts how many connections still get the fault (then it passes).
    """

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.mode, self.faults, self.delay_s = "pass", 0, 0.0
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str, faults: int = 1, delay_s: float = 0.0) -> None:
        self.mode, self.faults, self.delay_s = mode, faults, delay_s

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            mode = self.mode if self.faults > 0 else "pass"
            if mode != "pass":
                self.faults -= 1
            threading.Thread(target=self._handle, args=(client, mode), daemon=True).start()

    def _handle(self, client: socket.socket, mode: str) -> None:
        try:
            if mode == "503":
                client.recv(65536)
                body = b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
                               b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                return
            if mode == "delay":
                time.sleep(self.delay_s)
            upstream = socket.create_connection(self.target)
            if mode == "drop":
                upstream.sendall(client.recv(65536))
                upstream.recv(64)  # let the server start answering, then cut the line
                upstream.close()
                return
            t = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            t.start()
            _pipe(client, upstream)
            t.join(30)
        except OSError:
            pass
        finally:
            client.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def fault_proxy(s3_server):
    host, port = s3_server.endpoint.rsplit("//", 1)[1].split(":")
    proxy = FaultProxy(host, int(port))
    yield proxy
    proxy.close()
