"""How to reach object storage. Lives with the storage layer so storage never imports the job config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agiqa.schema import StrictModel


class StorageConfig(StrictModel):
    endpoint_url: str | None = Field(
        None, description="S3 endpoint (S3-compatible servers). Default: AWS_ENDPOINT_URL or AWS itself."
    )
    region: str | None = Field(None, description="S3 region. Default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1.")
    addressing_style: Literal["auto", "path", "virtual"] = Field("auto", description="S3 addressing style.")
    profile: str | None = Field(None, description="AWS profile name (credentials the usual AWS ways).")
    max_attempts: int = Field(6, ge=1, le=50, description="Attempts per storage call on transient faults.")
    outage_budget_s: float = Field(
        300.0, ge=0, description="How long a storage call keeps retrying transient faults (endpoint down, "
                                 "timeouts, throttling, 5xx) with backoff before the shard's attempt fails as a "
                                 "storage fault; a job rides out an outage shorter than this.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Storage connect timeout.")
    read_timeout_s: float = Field(60.0, gt=0, description="Storage read timeout.")
    read_block_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, description="Ranged-GET block size.")
