"""`ocis`: the command line of the Python oCIS implementation, and its async client SDK (`client`)."""

from __future__ import annotations

IMPLEMENTATION = "ocis-py (Python implementation of ownCloud Infinite Scale)"


def version() -> str:
    """The installed package version (read lazily: importlib.metadata is not free)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("ocis-py")
    except PackageNotFoundError:
        return "0+unknown"
