"""A read-only, seekable file over S3 ranged GETs, with a one-block read-ahead cache.

pyarrow's `ParquetFile` reads the footer, then each row group by range; this object lets it do
that over HTTP without downloading the shard, so a job holds at most a row group of images at a
time. Each GET fetches at least `block_size` bytes (fewer round trips for small reads). A read
that fails mid-stream (dropped connection, timeout, 5xx after botocore's own retries, an outage)
is retried with backoff for up to `outage_budget_s` (`storage.retry`); then it raises
`StorageUnavailable`, which the runner treats as a storage fault, not as bad data.
"""

from __future__ import annotations

import io


class S3RangedFile(io.RawIOBase):
    def __init__(self, client, bucket: str, key: str, block_size: int = 8 << 20, max_attempts: int = 6,
                 outage_budget_s: float = 300.0):
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        self.block_size = block_size
        self.max_attempts = max_attempts  # botocore's, per call; the budget below spans calls
        self.outage_budget_s = outage_budget_s
        head = self._retry(lambda: client.head_object(Bucket=bucket, Key=key))
        self.size = int(head["ContentLength"])
        self.etag = head.get("ETag", "").strip('"')
        self.pos = 0
        self._buf_start, self._buf = 0, b""
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, b) -> int:
        want = min(len(b), self.size - self.pos)
        if want <= 0:
            return 0
        end = self.pos + want
        if not (self._buf_start <= self.pos and end <= self._buf_start + len(self._buf)):
            fetch_end = min(self.size, max(end, self.pos + self.block_size))
            self._buf = self._get(self.pos, fetch_end)
            self._buf_start = self.pos
        off = self.pos - self._buf_start
        b[:want] = self._buf[off : off + want]
        self.pos = end
        return want

    def _get(self, start: int, end: int) -> bytes:
        def call() -> bytes:
            self.requests += 1
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}")
            data = resp["Body"].read()
            if len(data) != end - start:
                raise OSError(f"short read: got {len(data)} of {end - start} bytes")
            return data

        return self._retry(call)

    def _retry(self, fn):
        from agiqa.storage.retry import with_retry

        return with_retry(fn, f"reading s3://{self.bucket}/{self.key}", self.outage_budget_s)
