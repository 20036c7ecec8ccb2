"""IngestStage: a work-list row (`agiqa.ingest.worklist`) in, one agiqa input row out.

For each work-list row it reads the image's bytes where the row says they are (a file, a tar
member by offset and size, a cell of a Parquet shard: local or S3 through the project's stores),
checks them as scoring would (`agiqa.ingest.check`), and reads a `.txt` sidecar prompt. A row
whose image is bad gets `status=error` and the reason; the output file takes only `ok` rows, in
the layout ingest has always written (`id, image, prompt`, then the input's columns), and the bad
rows are recorded per batch in `<output>.agiqa/ingest/rejects/` for the ingest report: marked,
never dropped silently. A store that fails (an outage past its budget) fails the shard's attempt
instead, so the runner retries it; a row is marked bad only for what rereading would not change.

Runs on the prepare pool (reading and decoding release the GIL); `process` only assembles columns.
"""

from __future__ import annotations

import pyarrow as pa

from agiqa.ingest.report import rejects_uri
from agiqa.ingest.worklist import ID, PROMPT, SOURCE_COLUMNS, output_layout
from agiqa.resources import Resources
from agiqa.runner.stage import ShardOutput

#: Parquet row groups' image columns kept between batches (a 1,000-row group spans ~16 batches of 64).
GROUPS_KEPT = 4


class IngestStage:
    name = "ingest"
    required_columns = ("src.index", "src.item", "src.uri", ID)
    drop_columns = SOURCE_COLUMNS

    def __init__(self, output: str, *, limits, verify: str = "decode", storage=None, actors: int | None = None,
                 open_store=None):
        self.output, self.limits, self.verify, self.storage = output, limits, verify, storage
        #: How stores are opened: the job's own (`ShardJob.open_store`: a test's faulty store reaches here).
        self.open_store = open_store
        self.resources = Resources(num_cpus=1.0, num_actors=actors)
        self.outputs = (ShardOutput("ingested", statuses=("ok",), drop_columns=("status", "error"),
                                    columns=output_layout),)
        self._stores: dict | None = None

    def identity(self) -> dict:
        return {"stage": self.name, "verify": self.verify, "images": self.limits.model_dump(), "layout": 1}

    @staticmethod
    def settings_of(identity: dict) -> dict:
        """Nothing of it is refused: ingest outputs are a copy of their input, so other settings (another
        `--verify`, other limits) redo the shards, as ingest always did, instead of stopping the job."""
        return {}

    def output_fields(self) -> list[pa.Field]:
        return [pa.field("image", pa.binary()), pa.field("prompt", pa.string()),
                pa.field("status", pa.string()), pa.field("error", pa.string())]

    def __getstate__(self):  # shipped to Ray actors: stores, locks and caches are made again there
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")} | {"_stores": None}

    def setup(self) -> None:
        import threading
        from collections import OrderedDict

        from agiqa.data.sources import ImageSource

        self._stores, self._lock, self._source = {}, threading.Lock(), ImageSource(self.storage)
        self._groups: OrderedDict = OrderedDict()

    def teardown(self) -> None:
        self._stores = None

    def _store(self, uri: str):
        """A store for `uri`: the output's own (it writes the reject records) where the kinds match."""
        from agiqa.storage import open_store as default
        from agiqa.storage.uri import is_s3

        kind, opener = is_s3(uri), self.open_store or default
        with self._lock:
            if kind not in self._stores:
                self._stores[kind] = opener(self.output if is_s3(self.output) == kind else uri, self.storage)
            return self._stores[kind]

    def _row_group(self, key: tuple, read):
        """A Parquet row group's image column, kept for the next batches (a row group spans several)."""
        with self._lock:
            if key in self._groups:
                self._groups.move_to_end(key)
                return self._groups[key]
        column = read()
        with self._lock:
            self._groups[key] = column
            while len(self._groups) > GROUPS_KEPT:
                self._groups.popitem(last=False)
        return column

    def prepare(self, batch: pa.RecordBatch, side, shard=None) -> pa.RecordBatch:
        from agiqa.data.images import BadRow
        from agiqa.ingest.check import check_image
        from agiqa.runner.manifest import identity_hash
        from agiqa.storage.base import StorageError

        if self._stores is None:
            self.setup()
        cols = {n: batch.column(n).to_pylist() for n in batch.schema.names if n.startswith("src.") or n == PROMPT}
        n = batch.num_rows
        images, prompts = [None] * n, list(cols[PROMPT])
        status, error, skips = ["ok"] * n, [None] * n, []
        reader = _Reader(self)
        try:
            for i in range(n):
                try:
                    data = reader.image(cols, i)
                    check_image(data, self.limits, self.verify)
                    if cols["src.prompt_uri"][i] is not None:
                        prompts[i] = self._sidecar(cols["src.prompt_uri"][i])
                    images[i] = data
                except StorageError:
                    raise  # the store, not the row: the shard's attempt fails and is retried
                except BadRow as e:
                    status[i], error[i] = "error", f"{e.code}: {e}"
                    skips.append({"item": cols["src.item"][i], "code": e.code, "reason": str(e)})
                except Exception as e:
                    status[i], error[i] = "error", f"image_unreadable: {type(e).__name__}: {e}"
                    skips.append({"item": cols["src.item"][i], "code": "image_unreadable",
                                  "reason": f"{type(e).__name__}: {e}"})
        finally:
            reader.close()
        if skips and shard is not None:
            self._store(self.output).write_json(rejects_uri(self.output, shard.rel, cols["src.index"][0]),
                                                {"worklist_etag": shard.etag, "skips": skips,
                                                 "identity_hash": identity_hash(self.identity())})
        return pa.RecordBatch.from_arrays(
            [pa.array(images, pa.binary()), pa.array(prompts, pa.string()), pa.array(status, pa.string()),
             pa.array(error, pa.string())], schema=pa.schema(self.output_fields()))

    def process(self, prepared: pa.RecordBatch) -> pa.RecordBatch:
        return prepared

    def _sidecar(self, uri: str) -> str:
        from agiqa.data.images import BadRow
        from agiqa.storage.base import StorageError

        try:
            return self._store(uri).read_bytes(uri).decode("utf-8", errors="replace").strip()
        except StorageError:
            raise
        except Exception as e:
            raise BadRow("sidecar_unreadable", f"{type(e).__name__}: {e}") from None


class _Reader:
    """One batch's reads: each tar or Parquet shard opened once, a Parquet row group read once."""

    def __init__(self, stage: IngestStage):
        self.stage, self.files, self.layout = stage, {}, {}

    def image(self, cols: dict, i: int) -> bytes:
        from agiqa.data.images import BadRow

        uri = cols["src.uri"][i]
        if cols["src.offset"][i] is not None:  # a tar member
            f = self._open(uri)
            f.seek(cols["src.offset"][i])
            data = f.read(cols["src.size"][i])
            if len(data) != cols["src.size"][i]:
                raise BadRow("tar_truncated", f"the tar ends {cols['src.size'][i] - len(data)} bytes into this image")
            return data
        if cols["src.row"][i] is not None:  # a cell of a Parquet shard: bytes, a {bytes, path} struct or a path
            data = self.stage._source.load(self._cell(uri, cols["src.column"][i], cols["src.row"][i]), uri)
            if data is None:
                raise BadRow("image_null", "image is null")
            return bytes(data)
        try:
            return self.stage._store(uri).read_bytes(uri)
        except FileNotFoundError:
            raise BadRow("image_missing", "the image file is gone since the work list was made") from None

    def _open(self, uri: str):
        if uri not in self.files:
            self.files[uri] = self.stage._store(uri).open_read(uri)
        return self.files[uri]

    def _cell(self, uri: str, column: str, row: int):
        import bisect

        import pyarrow.parquet as pq

        if uri not in self.layout:
            pf = pq.ParquetFile(self._open(uri))
            starts, at = [], 0
            for g in range(pf.metadata.num_row_groups):
                starts.append(at)
                at += pf.metadata.row_group(g).num_rows
            self.layout[uri] = (pf, starts)
        pf, starts = self.layout[uri]
        g = bisect.bisect_right(starts, row) - 1
        cells = self.stage._row_group((uri, column, g), lambda: pf.read_row_group(g, columns=[column]).column(0))
        return cells[row - starts[g]].as_py()

    def close(self) -> None:
        for f in self.files.values():
            f.close()
