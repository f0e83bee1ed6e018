"""`python -m catgan.eval`: Table 1 (see catgan.eval.evaluate)."""
import sys

from .evaluate import entry

if __name__ == "__main__":
    sys.exit(entry())
