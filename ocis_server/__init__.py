"""ownCloud Infinite Scale in Python: the server side (services, storage, identity, runtime)."""

__version__ = "0.1.0"
# The legacy ownCloud 10 version string that clients compare against (>= 10.0.0 enables share-types).
LEGACY_VERSION = "10.11.0.0"
PRODUCT_VERSION = "7.1.0"
