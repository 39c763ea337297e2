"""The ipywidgets form for the client-credentials flow: `dp.form()` returns a `TokenForm`.

Importing this package imports ipywidgets; `import dailypay_nb` does not.
The form's logic (settings from the fields, where credentials came from, what to say about a
failure) lives in `_logic`, its HTML in `_render`, both free of widgets.
"""

from __future__ import annotations

from ._form import TokenForm

__all__ = ["TokenForm"]
