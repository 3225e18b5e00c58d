"""OCM service, part one: off unless OCIS_ENABLE_OCM=true; unauthenticated discovery at
`/.well-known/ocm` and `/ocm-provider` as oCIS publishes it (acceptance `apiOcm/ocmEndpoint.feature`,
OCM API `Discovery`); the providers file (oCIS ocmproviders.json) as an allow-list anchored on the
whole domain; OCM_DOMAIN defaulting to the host of OCIS_URL."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from ocis_server.config import ConfigError
from ocis_server.runtime import embedded_server, make_test_config, select_services
from ocis_server.services.context import ServiceContext
from ocis_server.services.ocm.app import create_app
from ocis_server.services.ocm.config import OcmConfig
from ocis_server.services.ocm.discovery import parse_discovery
from ocis_server.services.ocm.providers import Providers, ProvidersFileError, parse_providers
from ocm_peers import provider_entry, write_providers

# The example of oCIS services/ocm/README.md, verbatim in shape (two providers, OCM and Webdav).
OCIS_README_EXAMPLE = [provider_entry("cloud.ocis.test", "https://cloud.ocis.test"),
                       provider_entry("cloud.owncloud.test", "https://cloud.owncloud.test")]


def ocm_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"OCIS_ENABLE_OCM": "true", "OCM_DOMAIN": "zurich.test",
            "OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE": str(tmp_path / "ocmproviders.json"),
            **extra}


async def test_ocm_is_off_unless_enabled(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    assert "ocm" not in {s.name for s in select_services(config)}
    async with embedded_server(config) as srv, aiohttp.ClientSession() as http:
        for path in ("/.well-known/ocm", "/ocm-provider", "/ocm/shares"):
            async with http.get(srv.url + path) as resp:
                assert resp.status == 404, path


def test_enable_selects_and_exclude_wins(tmp_path: Path) -> None:
    on = make_test_config(tmp_path / "a", OCIS_ENABLE_OCM="true")
    assert "ocm" in {s.name for s in select_services(on)}
    off = make_test_config(tmp_path / "b", OCIS_ENABLE_OCM="true", OCIS_EXCLUDE_RUN_SERVICES="ocm")
    assert "ocm" not in {s.name for s in select_services(off)}
    added = make_test_config(tmp_path / "c", OCIS_ADD_RUN_SERVICES="ocm")
    assert "ocm" in {s.name for s in select_services(added)}      # oCIS: OCIS_ADD_RUN_SERVICES=ocm


async def test_discovery_document_unauthenticated(tmp_path: Path) -> None:
    async with (embedded_server(make_test_config(tmp_path, **ocm_env(tmp_path))) as srv,
                aiohttp.ClientSession() as http):
        bodies = []
        for path in ("/.well-known/ocm", "/.well-known/ocm/", "/ocm-provider"):
            async with http.get(srv.url + path) as resp:
                assert resp.status == 200, path
                assert resp.content_type == "application/json"
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
                bodies.append(await resp.json())
        assert bodies[0] == bodies[1] == bodies[2]
        doc = bodies[0]
        assert doc == {
            "enabled": True, "apiVersion": "1.1.0", "endPoint": f"{srv.url}/ocm",
            "provider": "oCIS",
            "resourceTypes": [{"name": "file", "shareTypes": ["user"],
                               "protocols": {"webdav": "/dav/ocm"}}],
            "capabilities": ["/invite-accepted", "/notifications"],   # the ones it really serves
        }
        async with http.get(srv.url + "/.well-known/ocm",
                            headers={"User-Agent": "Nextcloud Server Crawler"}) as resp:
            assert (await resp.json())["apiVersion"] == "1.1"      # Nextcloud's 1.x reading
        # Bad credentials do not matter on these paths (a peer sends none).
        async with http.get(srv.url + "/ocm-provider",
                            headers={"Authorization": "Basic bm9ib2R5Om5vcGU="}) as resp:
            assert resp.status == 200
        # An unknown OCM path is an OCM error body, not HTML, not a login challenge.
        async with http.get(srv.url + "/ocm/nothing-here") as resp:
            assert resp.status == 404 and "WWW-Authenticate" not in resp.headers
            assert set(await resp.json()) == {"message"}
        # What we publish passes our own peer validation when a peer lists us.
        listed = parse_providers(json.dumps([provider_entry("zurich.test", srv.url)]))
        mine = parse_discovery(doc, listed["zurich.test"])
        assert mine.endpoint == f"{srv.url}/ocm" and mine.webdav_root == f"{srv.url}/dav/ocm"


def test_domain_defaults_to_the_host_of_ocis_url(tmp_path: Path) -> None:
    config = make_test_config(tmp_path, OCIS_URL="https://cloud.Zurich.test:8443/",
                              OCIS_ENABLE_OCM="true")
    ctx = ServiceContext(config=config, storage=None, users=None)  # type: ignore[arg-type]
    ocm = OcmConfig.from_context(ctx)
    assert ocm.domain == "cloud.zurich.test:8443"
    assert ocm.providers_file == config.config_dir / "ocmproviders.json"   # oCIS's default place
    assert not (ocm.share_insecure or ocm.invite_insecure or ocm.storage_insecure)
    named = make_test_config(tmp_path / "n", OCM_DOMAIN="zurich.test")
    assert OcmConfig.from_context(ServiceContext(named, None, None)).domain == "zurich.test"  # type: ignore[arg-type]
    bad = make_test_config(tmp_path / "b", OCM_DOMAIN="https://zurich.test/")
    with pytest.raises(ConfigError, match="OCM_DOMAIN"):
        OcmConfig.from_context(ServiceContext(bad, None, None))  # type: ignore[arg-type]


def test_allow_list_is_anchored_on_the_whole_domain(tmp_path: Path) -> None:
    providers = Providers(tmp_path / "ocmproviders.json")
    assert providers.all() == [] and providers.find("cloud.ocis.test") is None   # missing file
    (tmp_path / "ocmproviders.json").write_text(json.dumps(OCIS_README_EXAMPLE))
    found = providers.find("cloud.ocis.test")                  # re-read: the file changed
    assert found is not None and found.ocm_url == "https://cloud.ocis.test/ocm/"
    assert found.webdav_url == "https://cloud.ocis.test/dav/" and found.name == "cloud.ocis.test test"
    assert providers.find("CLOUD.OCIS.TEST.") == found          # case and the root dot only
    for impostor in ("evilcloud.ocis.test", "cloud.ocis.test.evil", "x.cloud.ocis.test",
                     "ocis.test", "cloud.ocis.test:443", "https://cloud.ocis.test",
                     "cloud.ocis.test/ocm", "*.ocis.test", "user@cloud.ocis.test", "",
                     "cloud.ocis.test..", "cloud%2eocis.test"):
        assert providers.find(impostor) is None, impostor
    # Only URLs on a listed origin belong to it (scheme, host and port must all match).
    assert found.owns("https://cloud.ocis.test/ocm/shares")
    assert found.owns("https://CLOUD.ocis.test:443/dav/ocm/x")
    for url in ("http://cloud.ocis.test/ocm/", "https://cloud.ocis.test:8443/ocm",
                "https://cloud.ocis.test.evil/ocm", "https://evil@cloud.ocis.test/",
                "https://cloud.owncloud.test/ocm/", "/ocm/shares", "ftp://cloud.ocis.test/"):
        assert not found.owns(url), url
    assert providers.owner_of("https://cloud.owncloud.test/dav/x").domain == "cloud.owncloud.test"  # type: ignore[union-attr]
    with pytest.raises(Exception, match="not a trusted OCM provider.*ocmproviders.json"):
        providers.get("lyon.test")


@pytest.mark.parametrize("text, fault", [
    ("{not json", "not valid JSON"),
    ('{"domain": "a.test"}', "JSON array"),
    ('[{"domain": "https://a.test", "services": []}]', "bare domain"),
    ('[{"domain": "a.test", "services": []}]', "no service of type OCM"),
    ('[{"domain": "a.test", "services": [{"endpoint": {"type": {"name": "OCM"}, '
     '"path": "a.test/ocm"}}]}]', "absolute http"),
    (json.dumps([provider_entry("a.test", "https://a.test")] * 2), "listed twice"),
])
def test_a_broken_providers_file_is_refused_with_the_reason(tmp_path: Path, text: str,
                                                            fault: str) -> None:
    path = tmp_path / "ocmproviders.json"
    path.write_text(text)
    with pytest.raises(ProvidersFileError, match=fault):
        Providers(path)
    config = make_test_config(tmp_path / "srv", **ocm_env(tmp_path))
    with pytest.raises(ConfigError, match="OCM_OCM_PROVIDER_AUTHORIZER_PROVIDERS_FILE"):
        create_app(ServiceContext(config, None, None), "/ocm")  # type: ignore[arg-type]


def test_a_broken_edit_keeps_the_last_good_list(tmp_path: Path) -> None:
    path = write_providers(tmp_path / "ocmproviders.json", {"paris.test": "https://paris.test"})
    providers = Providers(path)
    assert providers.find("paris.test") is not None
    path.write_text("[{broken")
    assert providers.find("paris.test") is not None
    write_providers(path, {"lyon.test": "https://lyon.test"})
    assert providers.find("paris.test") is None and providers.find("lyon.test") is not None
