"""memvault: an AI assistant's memory in a database that evolves without losing a row."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("memvault")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
