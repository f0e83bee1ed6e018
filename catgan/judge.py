"""``python -m catgan.judge score|train|ship``, as the README spells it: catgan/judges/__main__.py."""
from .judges.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
