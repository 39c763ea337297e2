"""The vendored contract: present, verbatim, and loaded with its one defect repaired."""

from __future__ import annotations

import hashlib

from dailypay_nb import openapi


def test_document_is_the_verbatim_published_copy() -> None:
    """The file's hash is the one recorded beside it: an edit or a missing file fails here."""
    assert hashlib.sha256(openapi.PATH.read_bytes()).hexdigest() == openapi.SHA256
    assert openapi.VERSION in (openapi.PATH.parent / "README.md").read_text()
    assert openapi.SHA256 in (openapi.PATH.parent / "README.md").read_text()


def test_load_repairs_the_duplicate_required_entry() -> None:
    """JobResource lists `attributes` once after loading; the file still lists it twice."""
    document = openapi.load()
    assert document["info"]["version"] == openapi.VERSION
    required = document["components"]["schemas"]["JobResource"]["required"]
    assert len(required) == len(set(required))
    assert openapi.PATH.read_text().count("attributes") > 0


def test_load_hands_out_independent_copies() -> None:
    """A caller changing its copy does not change the next caller's."""
    first = openapi.load()
    first["paths"].clear()
    assert openapi.load()["paths"]
