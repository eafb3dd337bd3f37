"""``python -m app.cli``: the ``plancycle`` program, as its console script runs it (``app.fastread.main``: the fast
read path first, then the CLI)."""

from app.fastread import main

main()
