"""`python -m dailypay_nb.sandbox`: run a sandbox in the foreground."""

from __future__ import annotations

from . import main

raise SystemExit(main())
