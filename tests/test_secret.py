"""Secret: masked everywhere, revealed only on request."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

import dailypay_nb as dp

VALUE = "canary-secret-0123456789"


def test_masked_in_every_rendering(caplog: pytest.LogCaptureFixture) -> None:
    """repr, str, format, %-format, HTML and logging show a mask, never the value."""
    s = dp.Secret(VALUE)
    logging.getLogger("t").warning("secret is %s / %r", s, s)
    renderings = [
        repr(s),
        str(s),
        f"{s}",
        f"{s!r}",
        "%s" % (s,),  # noqa: UP031
        s._repr_html_(),
        caplog.text,
    ]
    assert all(VALUE not in text for text in renderings)
    assert s.fingerprint.startswith("fp:")


def test_reveal_is_the_only_way_out() -> None:
    """reveal() returns the value; copies keep it; pickling is refused."""
    s = dp.Secret(VALUE)
    assert s.reveal() == VALUE
    assert copy.deepcopy(s).reveal() == VALUE
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)


def test_empty_secret_is_falsy() -> None:
    """An empty secret is falsy and shows as empty."""
    assert not dp.Secret("")
    assert "empty" in repr(dp.Secret(""))
