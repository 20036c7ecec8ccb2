"""`agiqa ingest`'s configuration (flags or `agiqa.api.ingest(dict)`), validated before any work."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from agiqa.data.config import ImageLimits
from agiqa.schema import StrictModel
from agiqa.storage.config import StorageConfig

FORMATS = ("auto", "folder", "webdataset", "parquet")


class IngestConfig(StrictModel):
    input: str = Field(..., description="Input root: a folder or s3://bucket/prefix.")
    output: str = Field(..., description="Output root for agiqa-layout Parquet shards (outside the input).")
    format: Literal["auto", "folder", "webdataset", "parquet"] = Field(
        "auto", description="folder (images + table or .txt sidecars), webdataset (*.tar, img2dataset's layout "
                            "included), parquet (image column of bytes, {bytes, path} structs or paths); "
                            "auto: *.tar -> webdataset, else *.parquet -> parquet, else folder.")
    table: str | None = Field(
        None, description="folder: CSV, JSONL or Parquet table of file name -> prompt (+ any columns). "
                          "Without it, a `<name>.txt` beside each image is its prompt (no file: no prompt).")
    file_column: str | None = Field(
        None, description="Table column naming each image, relative to the input folder "
                          "(default: the first of file_name, file, filename, image, path, image_path).")
    prompt_column: str | None = Field(
        None, description="Column (table or Parquet) holding the prompt (default: the first of prompt, caption, "
                          "text); written as `prompt`.")
    id_column: str | None = Field(
        None, description="Column holding a unique row id, written as `id` (default: the image's relative path "
                          "for folders, the key for tars, '<shard>#<row>' for Parquet).")
    image_column: str | None = Field(
        None, description="parquet: the image column (default: `image`, else the first {bytes, path} struct).")
    rows_per_shard: int = Field(1000, ge=1, description="folder: rows per output shard (tars and Parquet "
                                                        "shards map one to one).")
    verify: Literal["decode", "header"] = Field(
        "decode", description="decode: every image is fully decoded (truncated files caught); header: only its "
                              "header is read (faster; a truncated file is then caught at scoring).")
    workers: int = Field(4, ge=1, le=256, description="Images read and checked at once: threads of the local "
                                                      "runner, Ray actors with --runner ray.")
    runner: Literal["local", "ray"] = Field(
        "local", description="local: in this process (the light install); ray: on Ray actors (RAY_ADDRESS or "
                             "--address, else a local Ray), with the runner's attempts, resume and lease either way.")
    address: str | None = Field(None, description="ray: the cluster's address (default RAY_ADDRESS, else a local Ray).")
    max_shard_attempts: int = Field(3, ge=1, description="Attempts per output shard before it counts as failed.")
    overwrite: bool = Field(False, description="Redo output shards that are already committed.")
    follow_symlinks: bool = Field(
        False, description="Ingest local files that are symlinks to places outside the input root (default: "
                           "refused and reported per file as symlink_outside_input).")
    images: ImageLimits = Field(default_factory=ImageLimits)
    storage: StorageConfig = Field(default_factory=StorageConfig)

    @field_validator("input", "output")
    @classmethod
    def _root(cls, v: str) -> str:
        from agiqa.storage.uri import is_s3, split_s3

        if not v.strip():
            raise ValueError("is empty")
        if is_s3(v):
            split_s3(v)
        return v
