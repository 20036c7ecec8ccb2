"""Conditional writes of one small JSON object, on either store: the primitive a lease needs.

Four operations, each atomic with respect to the others on the same object:
`create_exclusive` (only if absent), `read_versioned` (content and version), `replace_if`
(only if still at that version), `delete_if`. The version is an opaque string.

- S3: `PutObject` with `If-None-Match: *` / `If-Match: <ETag>` (AWS since 2024; moto). A store
  that ignores those headers would let two writers both win, so the first use per endpoint
  probes it (a second exclusive create of a probe object must fail) and, if it does not, warns
  once and falls back to check-then-write (a race of milliseconds instead of none).
- Local: the same steps under an exclusive `flock` of `<object>.lock`; the version is a counter
  kept in the object.
"""

from __future__ import annotations

import json
import logging
import os
import threading

from agiqa.storage.uri import is_s3, split_s3

log = logging.getLogger(__name__)
_PROBED: dict[str, bool] = {}
_PROBE_LOCK = threading.Lock()
VERSION_KEY = "_version"


def create_exclusive(store, uri: str, data: dict) -> str | None:
    """Write `data` at `uri` only if nothing is there; its version, or None when something was."""
    return _retried(store, lambda: _s3_create(store, uri, data), uri) if is_s3(uri) else _local(uri, "create", data)


def read_versioned(store, uri: str) -> tuple[dict, str] | None:
    """(content, version) of the object at `uri`, or None when there is none."""
    return _retried(store, lambda: _s3_read(store, uri), uri) if is_s3(uri) else _local(uri, "read")


def replace_if(store, uri: str, data: dict, version: str) -> str | None:
    """Replace the object only if it is still at `version`; the new version, or None."""
    if not is_s3(uri):
        return _local(uri, "replace", data, version)
    return _retried(store, lambda: _s3_replace(store, uri, data, version), uri)


def _retried(store, fn, uri: str):
    """On S3, transient faults ride out an outage as every other storage call does (`storage.retry`);
    anything else is one line (`StorageError`)."""
    from agiqa.storage.retry import StorageUnavailable, with_retry

    try:
        return with_retry(fn, f"writing the lease {uri}", store.cfg.outage_budget_s)
    except StorageUnavailable:
        raise
    except Exception as e:
        raise _storage_error(uri, e) from None


def delete_if(store, uri: str, version: str) -> bool:
    """Delete the object only if it is still at `version`; True when it was deleted."""
    if not is_s3(uri):
        return bool(_local(uri, "delete", None, version))
    current = _retried(store, lambda: _s3_read(store, uri), uri)
    if current is None or current[1] != version:
        return False
    bucket, key = split_s3(uri)
    _retried(store, lambda: store.client.delete_object(Bucket=bucket, Key=key), uri)
    return True


# -- S3 ---------------------------------------------------------------------------------------------
def _storage_error(uri: str, e: Exception):
    from agiqa.storage.base import StorageError
    from agiqa.storage.s3_errors import describe_error

    return StorageError(f"{uri}: {describe_error(e)}")


def _failed_precondition(e: Exception) -> bool:
    from agiqa.storage.s3_errors import error_code

    return error_code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404")


def _s3_body(data: dict) -> bytes:
    return (json.dumps(data, sort_keys=True) + "\n").encode()


def _s3_create(store, uri: str, data: dict) -> str | None:
    bucket, key = split_s3(uri)
    if not _conditional_ok(store, bucket, key) and _s3_read(store, uri) is not None:
        return None
    try:
        return store.client.put_object(Bucket=bucket, Key=key, Body=_s3_body(data), IfNoneMatch="*")["ETag"]
    except Exception as e:
        if _failed_precondition(e):
            return None
        raise


def _s3_read(store, uri: str) -> tuple[dict, str] | None:
    from agiqa.storage.s3_errors import error_code

    bucket, key = split_s3(uri)
    try:
        obj = store.client.get_object(Bucket=bucket, Key=key)
    except Exception as e:
        if error_code(e) in ("NoSuchKey", "404"):
            return None
        raise
    try:
        return json.loads(obj["Body"].read()), obj["ETag"]
    except ValueError:
        return {}, obj["ETag"]


def _s3_replace(store, uri: str, data: dict, version: str) -> str | None:
    bucket, key = split_s3(uri)
    if not _conditional_ok(store, bucket, key):
        current = _s3_read(store, uri)
        if current is None or current[1] != version:
            return None
    try:
        return store.client.put_object(Bucket=bucket, Key=key, Body=_s3_body(data), IfMatch=version)["ETag"]
    except Exception as e:
        if _failed_precondition(e):
            return None
        raise


def _conditional_ok(store, bucket: str, key: str) -> bool:
    """Whether this endpoint honours If-None-Match (probed once per endpoint and bucket)."""
    import uuid

    where = f"{getattr(store, 'endpoint', None)}|{bucket}"
    with _PROBE_LOCK:
        if where in _PROBED:
            return _PROBED[where]
        probe = f"{key.rsplit('/', 1)[0]}/.agiqa-conditional-probe-{uuid.uuid4().hex}" if "/" in key else \
            f".agiqa-conditional-probe-{uuid.uuid4().hex}"
        ok = True
        try:
            store.client.put_object(Bucket=bucket, Key=probe, Body=b"1", IfNoneMatch="*")
            try:
                store.client.put_object(Bucket=bucket, Key=probe, Body=b"2", IfNoneMatch="*")
                ok = False
            except Exception as e:
                from agiqa.storage.s3_errors import is_transient

                if not _failed_precondition(e) and is_transient(e):
                    raise  # an outage, not an answer: retried by the caller
                ok = _failed_precondition(e)
        finally:
            try:
                store.client.delete_object(Bucket=bucket, Key=probe)
            except Exception:
                pass
        if not ok:
            log.warning("the S3 endpoint %s ignores conditional writes (If-None-Match): the output lease is "
                        "best-effort there (check, then write)", getattr(store, "endpoint", None) or "AWS")
        _PROBED[where] = ok
        return ok


# -- local ------------------------------------------------------------------------------------------
def _local(uri: str, op: str, data: dict | None = None, version: str | None = None):
    import fcntl

    os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
    with open(uri + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = _read_local(uri)
        if op == "read":
            return None if current is None else (current, str(current.get(VERSION_KEY, 0)))
        if op == "create":
            return None if current is not None else _write_local(uri, data, 1)
        if current is None or str(current.get(VERSION_KEY, 0)) != version:
            return None if op == "replace" else False
        if op == "replace":
            return _write_local(uri, data, int(current.get(VERSION_KEY, 0)) + 1)
        os.unlink(uri)
        return True


def _read_local(uri: str) -> dict | None:
    try:
        with open(uri) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        return {}


def _write_local(uri: str, data: dict, version: int) -> str:
    tmp = f"{uri}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({**data, VERSION_KEY: version}, f, sort_keys=True)
    os.replace(tmp, uri)
    return str(version)
