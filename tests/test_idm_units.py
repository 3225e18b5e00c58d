"""idm's building blocks: framing, DN parsing (RFC 4514), three-valued filter logic (RFC 4511
§4.5.1.7), and what `ocis init` prepares for it (certificate, service account passwords)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocis_server.runtime import make_test_config
from ocis_server.services.idm import ber
from ocis_server.services.idm import dn as dnlib
from ocis_server.services.idm.directory import Entry
from ocis_server.services.idm.match import evaluate


def test_init_creates_the_certificate_and_service_passwords(tmp_path: Path) -> None:
    config = make_test_config(tmp_path)
    cert, key = tmp_path / "data" / "idm" / "ldap.crt", tmp_path / "data" / "idm" / "ldap.key"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert key.stat().st_mode & 0o077 == 0
    passwords = {config.idm_svc_password, config.idm_idp_password, config.idm_reva_password}
    assert len(passwords) == 3 and "" not in passwords


# --- building blocks --------------------------------------------------------------------------

def test_framing() -> None:
    assert ber.frame_length(b"", 100) is None
    assert ber.frame_length(b"\x30", 100) is None
    assert ber.frame_length(b"\x30\x05", 100) == 7
    assert ber.frame_length(b"\x30\x82\x01", 1000) is None
    assert ber.frame_length(b"\x30\x82\x01\x00", 1000) == 260
    with pytest.raises(ber.MalformedPDU):
        ber.frame_length(b"\x30\x82\x01\x00", 100)


@pytest.mark.parametrize(("text", "canonical"), [
    ("UID=Einstein, OU=Users ,o=libregraph-idm", "uid=einstein,ou=users,o=libregraph-idm"),
    ("cn=a\\2cb+sn=x,o=y", "cn=a\\,b+sn=x,o=y"),
    ("commonName=Foo  Bar,o=x", "cn=foo bar,o=x"),
    ('uid="quoted, value",o=x', "uid=quoted\\, value,o=x"),
    ("", ""),
])
def test_dn_normalisation(text: str, canonical: str) -> None:
    assert dnlib.normalize(text) == canonical


@pytest.mark.parametrize("text", ["garbage", "uid=a,=b", "uid=a\\zz", "u id=x", "uid=a<b"])
def test_invalid_dns(text: str) -> None:
    with pytest.raises(dnlib.InvalidDN):
        dnlib.parse(text)


def test_escaped_names_round_trip() -> None:
    name = " a,b+c=d#\\ "
    assert dnlib.parse(f"uid={dnlib.escape_value(name)},o=x")[0] == (("uid", dnlib.fold(name)),)


def test_three_valued_logic() -> None:
    entry = Entry("uid=x,o=y", "uid=x,o=y", "o=y")
    entry.add("uid", "x")
    known = ber.Compare("equality", "uid", b"x")
    unknown = ber.Compare("equality", "bogus", b"x")
    assert evaluate(known, entry) is True
    assert evaluate(unknown, entry) is None
    assert evaluate(ber.Not(unknown), entry) is None
    assert evaluate(ber.And((known, unknown)), entry) is None
    assert evaluate(ber.Or((known, unknown)), entry) is True
    assert evaluate(ber.And((ber.Not(known), unknown)), entry) is False
    assert evaluate(ber.Present("bogus"), entry) is False
    assert evaluate(ber.Compare("equality", "uid", b"\xff"), entry) is None
