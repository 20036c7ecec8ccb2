"""S3 and S3-compatible object storage through boto3.

Configuration follows the usual AWS ways (environment, profiles, instance roles), with
`StorageConfig` on top: endpoint (or `AWS_ENDPOINT_URL`), region, addressing style, timeouts.
botocore's "standard" retry mode retries throttling, 5xx and connection errors on every call, for
seconds; an outage longer than that is ridden out here: every read, write, listing and stat is
retried with backoff for up to `storage.outage_budget_s` (`retry.py`; reads that break mid-stream
too, `ranged_file.py`). Messages never carry credentials.

A store is opened for one root (`open_store(root)`); every write, commit, temp file and delete is
checked to lie under it with a safe relative key (`names.check_inside`): S3 itself would take
`a/../../x` as a key, but a copy of the bucket onto a disk would not.
"""

from __future__ import annotations

import json
import os

from agiqa.errors import UnsafeNameError
from agiqa.storage.base import ShardInfo, StorageError
from agiqa.storage.names import check_inside
from agiqa.storage.retry import StorageUnavailable, with_retry
from agiqa.storage.s3_errors import describe_error, error_code
from agiqa.storage.staging import clean_staging, staging_path
from agiqa.storage.uri import is_s3, split_s3


class S3Store:
    def __init__(self, cfg, root: str | None = None):
        import boto3
        from botocore.config import Config

        self.cfg, self.root = cfg, root  # root: where writes may go; None: nowhere
        session = boto3.session.Session(profile_name=cfg.profile) if cfg.profile else boto3.session.Session()
        region = cfg.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = cfg.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        self.endpoint = endpoint
        self.client = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(
                retries={"max_attempts": cfg.max_attempts, "mode": "standard"},
                connect_timeout=cfg.connect_timeout_s,
                read_timeout=cfg.read_timeout_s,
                s3={"addressing_style": cfg.addressing_style},
            ),
        )

    def _call(self, fn, what: str):
        """`fn()` with transient faults retried for up to `storage.outage_budget_s` (`storage.retry`)."""
        return with_retry(fn, what, self.cfg.outage_budget_s)

    def list_shards(self, root: str) -> list[ShardInfo]:
        return self.list_files(root, (".parquet",))

    def list_files(self, root: str, suffixes: tuple[str, ...] | None = None) -> list[ShardInfo]:
        """Objects under `root` whose keys end with one of `suffixes` (None: every object), sorted.
        `suffixes` match case-insensitively, except `.parquet` (kept as it always was for shards)."""
        bucket, prefix = split_s3(root)
        want = tuple(s.lower() for s in suffixes) if suffixes else None
        if prefix and not prefix.endswith("/") and not (want and prefix.lower().endswith(want)):
            prefix += "/"

        def listing() -> list[ShardInfo]:  # retried whole: a listing cut by an outage starts again
            out: list[ShardInfo] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue
                    if want is None or key.lower().endswith(want):
                        rel = key[len(prefix):] if prefix.endswith("/") else key.rsplit("/", 1)[-1]
                        out.append(ShardInfo(uri=f"s3://{bucket}/{key}", rel=rel, size=int(obj["Size"]),
                                             etag=obj.get("ETag", "").strip('"')))
            return out

        try:
            out = self._call(listing, f"listing {root}")
        except StorageUnavailable:
            raise
        except Exception as e:
            raise StorageError(f"cannot list {root}: {describe_error(e)}") from None
        return sorted(out, key=lambda s: s.rel)

    def read_bytes(self, uri: str) -> bytes:
        """A whole (small) object in one GET: an image file named by a path column or an ingest listing."""
        bucket, key = split_s3(uri)
        try:
            return self._call(lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read(), f"reading {uri}")
        except StorageUnavailable:
            raise
        except Exception as e:
            if error_code(e) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(uri) from None
            raise StorageError(f"cannot read {uri}: {describe_error(e)}") from None

    def open_read(self, uri: str):
        from agiqa.storage.ranged_file import S3RangedFile

        bucket, key = split_s3(uri)
        return S3RangedFile(self.client, bucket, key, block_size=self.cfg.read_block_bytes,
                            max_attempts=self.cfg.max_attempts, outage_budget_s=self.cfg.outage_budget_s)

    def temp_path_for(self, uri: str) -> str:
        """A staging file in agiqa's own folder, named with this host and process, so a rerun after a
        killed job finds and removes what the dead process left, and only that (`staging.py`)."""
        check_inside(self.root, uri)
        return staging_path()

    def probe_write(self, root: str, ride_outages: bool = False) -> None:
        """Write and delete a small object under `root`: refuse a read-only output before any work."""
        import uuid

        bucket, prefix = split_s3(root)
        key = "/".join(p for p in (prefix.strip("/"), f".agiqa-write-probe-{uuid.uuid4().hex}") if p)
        check_inside(self.root, f"s3://{bucket}/{key}")
        try:
            def call():
                return self.client.put_object(Bucket=bucket, Key=key, Body=b"")

            self._call(call, f"writing under {root}") if ride_outages else call()
        except StorageUnavailable:
            raise
        except Exception as e:
            raise StorageError(f"output {root}: cannot write there: {describe_error(e)}") from None
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception:
            pass  # written but not deletable: harmless, and writing is what the job needs

    def commit_file(self, local_path: str, uri: str) -> None:
        """One PUT, or one multipart upload completed at the end (boto3 aborts it on failure)."""
        bucket, key = split_s3(uri)
        try:
            check_inside(self.root, uri)  # raises UnsafeNameError as it is: a refusal, not a storage fault
            self._call(lambda: self.client.upload_file(local_path, bucket, key), f"writing {uri}")
        except (UnsafeNameError, StorageUnavailable):
            raise
        except Exception as e:
            raise StorageError(f"cannot write {uri}: {describe_error(e)}") from None
        finally:
            try:
                os.unlink(local_path)
            except OSError:
                pass

    def read_json(self, uri: str) -> dict | None:
        bucket, key = split_s3(uri)
        try:
            body = self._call(lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read(), f"reading {uri}")
        except self.client.exceptions.NoSuchKey:
            return None
        except StorageUnavailable:
            raise
        except Exception as e:
            if error_code(e) in ("404", "NoSuchKey"):
                return None
            raise StorageError(f"cannot read {uri}: {describe_error(e)}") from None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def write_json(self, uri: str, data: dict) -> None:
        check_inside(self.root, uri)
        bucket, key = split_s3(uri)
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
        try:
            self._call(lambda: self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json"),
                       f"writing {uri}")
        except StorageUnavailable:
            raise
        except Exception as e:
            raise StorageError(f"cannot write {uri}: {describe_error(e)}") from None

    def delete(self, uri: str) -> None:
        check_inside(self.root, uri)
        bucket, key = split_s3(uri)
        try:
            self._call(lambda: self.client.delete_object(Bucket=bucket, Key=key), f"deleting {uri}")
        except StorageUnavailable:
            raise
        except Exception as e:
            raise StorageError(f"cannot delete {uri}: {describe_error(e)}") from None

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3(uri)
        try:
            self._call(lambda: self.client.head_object(Bucket=bucket, Key=key), f"checking {uri}")
            return True
        except StorageUnavailable:
            raise
        except Exception as e:
            if error_code(e) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"cannot stat {uri}: {describe_error(e)}") from None

    def info(self, uri: str) -> ShardInfo | None:
        """Size and ETag of the object at `uri` (one HEAD), or None when there is none."""
        bucket, key = split_s3(uri)
        try:
            head = self._call(lambda: self.client.head_object(Bucket=bucket, Key=key), f"checking {uri}")
        except StorageUnavailable:
            raise
        except Exception as e:
            if error_code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"cannot stat {uri}: {describe_error(e)}") from None
        return ShardInfo(uri=uri, rel=key.rsplit("/", 1)[-1], size=int(head["ContentLength"]),
                         etag=str(head.get("ETag", "")).strip('"'))

    def check_bucket(self, uri: str, role: str, ride_outages: bool = False) -> None:
        bucket, _ = split_s3(uri)
        try:
            def call():
                return self.client.head_bucket(Bucket=bucket)

            self._call(call, f"checking {uri}") if ride_outages else call()
        except StorageUnavailable:
            raise
        except Exception as e:
            raise StorageError(f"{role} {uri}: {describe_error(e)}") from None


def check_access(input_root: str, output_root: str, storage_cfg, ride_outages: bool = False) -> None:
    """Fail fast, with one clear message, before any work starts (`ride_outages`: see
    `agiqa.storage.check_access`)."""
    roots = [(input_root, "input"), (output_root, "output")]
    s3_roots = [(r, role) for r, role in roots if is_s3(r)]
    if s3_roots:
        store = S3Store(storage_cfg, root=output_root if is_s3(output_root) else None)
        for r, role in s3_roots:
            store.check_bucket(r, role, ride_outages)
        if is_s3(output_root):
            store.probe_write(output_root, ride_outages)
        clean_staging()
