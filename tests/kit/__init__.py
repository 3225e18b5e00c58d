"""The shared test kit (`from kit import ...`): one way to authenticate (`headers`, `basic`, the
proxy stand-in), one HTTP client with a helper per verb that checks the expected status (`Http`,
`Dav`, `Ocs`, `Graph`; `send` hands the status to the caller), the test users in the in-memory
identity driver (`memory_users`), services mounted in-process (`ocdav_root`), and the third-party
tools the tests require, which fail the test when missing (`require_tool`, `litmus_run`)."""

from .apps import DAV_MOUNTS, STORAGE_ID, ocdav_root, storage_with_homes
from .auth import basic, headers, ocs_headers, proxy_stand_in, root_app
from .http import OC, D, Dav, Graph, Http, Ocs, propfind_body, props_of
from .tools import litmus_run, require_tool, shared_dir
from .users import (
    ADMIN,
    ALICE,
    BOB,
    DEMO_PASSWORDS,
    DRIVERS,
    MEMORY_DRIVER,
    SPACEADMIN,
    STANDARD,
    memory_users,
    open_driver,
    password_of,
)

__all__ = ["ADMIN", "ALICE", "BOB", "DAV_MOUNTS", "DEMO_PASSWORDS", "DRIVERS", "MEMORY_DRIVER", "OC",
           "SPACEADMIN", "STANDARD", "STORAGE_ID", "D", "Dav", "Graph", "Http", "Ocs", "basic",
           "headers", "litmus_run", "memory_users", "ocdav_root", "ocs_headers", "open_driver",
           "password_of", "propfind_body", "props_of", "proxy_stand_in", "require_tool",
           "root_app", "shared_dir", "storage_with_homes"]
