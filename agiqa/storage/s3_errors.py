"""S3 errors as one credential-free line, and which of them are worth retrying."""

from __future__ import annotations


def error_code(e: Exception) -> str:
    return str((getattr(e, "response", None) or {}).get("Error", {}).get("Code", ""))


def describe_error(e: Exception) -> str:
    """A one-line, credential-free reason for a boto3/botocore error."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(e, NoCredentialsError):
        return "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or a role)"
    if isinstance(e, EndpointConnectionError):
        return f"cannot reach the storage endpoint ({e.kwargs.get('endpoint_url', 'unknown')})"
    if isinstance(e, ClientError):
        code = error_code(e)
        if code in ("404", "NoSuchBucket"):
            return "the bucket does not exist"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return f"access denied ({code}): check the credentials and the bucket policy"
        return f"{code}: {e.response.get('Error', {}).get('Message', '')}".strip()
    return f"{type(e).__name__}: {e}"


def is_transient(e: Exception) -> bool:
    """Worth retrying: throttling, 5xx, connection errors, timeouts, short reads. Not: access denied,
    a missing bucket or key, no credentials, bad parameters, or a bug (TypeError ...)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectionError,
        HTTPClientError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or code in ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
                                         "Throttling", "ThrottlingException", "RequestTimeTooSkewed")
    if isinstance(e, ConnectionError | ConnectionClosedError | ReadTimeoutError | HTTPClientError
                  | IncompleteReadError | ResponseStreamingError):
        return True
    return isinstance(e, OSError)  # a short read, a connection reset
