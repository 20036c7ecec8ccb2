"""The library's error types. Library code raises these; only `agiqa.commands`/`agiqa.cli` turn them
into exit codes (2: fix the setup and run again) and one-line messages without a traceback."""


class AgiqaError(Exception):
    """A problem the user can fix (bad config, missing file, unreachable bucket, unusable data)."""


class ConfigError(AgiqaError, ValueError):
    """Configuration that cannot work; raised before any shard is touched or any model loads."""


class DataError(AgiqaError):
    """Input data that cannot be used as given (no rows, missing columns)."""


class UnsafeNameError(DataError):
    """A name that would put a file outside the root its store was opened for (`..`, `//`, a leading
    `/`, control characters, a symlink out): refused, never written."""


class ClusterError(AgiqaError):
    """The Ray cluster cannot be reached or cannot start the job's actors."""


class RanksError(AgiqaError):
    """Drivers of one job split N ways (`runner.world_size`) that do not meet: another rank's shards
    not committed in time for a reduce step, or a rank's summary missing when they are merged."""


#: The name commands use for "tell the user and exit 2".
UserError = AgiqaError
