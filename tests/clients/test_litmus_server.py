"""litmus 0.13 (WebDAV compliance), all five suites, on the three DAV flavours oCIS CI tests."""

from __future__ import annotations

import os
import re
import urllib.parse

import pytest

from .helpers import Dav, describe, personal_space_id, require_tool, run, shared_dir

pytestmark = pytest.mark.slow
SUITES = "basic copymove props locks http"
# tests per suite in litmus 0.13 when nothing is skipped (a server without dead properties or
# locks makes litmus skip most of props/locks instead of failing them)
FULL_RUN = {"basic": 16, "copymove": 13, "props": 30, "locks": 41, "http": 4}


def litmus(url: str, user: str, password: str) -> tuple[int, int, str]:
    """Run ../shared/tools/litmus_run.sh; (passed, failed, output)."""
    require_tool("litmus")
    script = shared_dir() / "tools" / "litmus_run.sh"
    proc = run(["bash", str(script), url, user, password], env={**os.environ, "TESTS": SUITES},
               timeout=300)
    match = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert match, f"no litmus summary line:\n{describe(proc)}"
    passed, failed = int(match[1]), int(match[2])
    # litmus_run.sh exits non-zero on any failure (litmus -k itself always exits 0)
    assert (proc.returncode == 0) == (failed == 0 and passed > 0), describe(proc)
    return passed, failed, proc.stdout


@pytest.mark.parametrize("flavour", ["webdav", "dav-files", "dav-spaces"])
def test_litmus_all_suites_pass(real_server, flavour: str) -> None:
    user, password = real_server.admin
    if flavour == "webdav":
        path = "/remote.php/webdav/"
    elif flavour == "dav-files":
        path = f"/remote.php/dav/files/{user}/"
    else:
        space_id = personal_space_id(Dav(real_server.url, user, password), user)
        path = f"/remote.php/dav/spaces/{urllib.parse.quote(space_id, safe='')}/"
    passed, failed, output = litmus(real_server.url + path, user, password)
    assert failed == 0, f"litmus on {path}: {passed} passed, {failed} failed\n{output}"
    runs = {suite: int(n) for suite, n in re.findall(r"^(\w+)\s+run=(\d+)", output, re.MULTILINE)}
    assert runs == FULL_RUN, f"litmus on {path} skipped tests:\n{output}"
    assert passed == sum(FULL_RUN.values())
