"""Benchmarks (``python -m bench.NAME --json``). Importing the package first pins numpy's BLAS and
the tokenizers to one thread (:mod:`core.threads`), before any bench module imports numpy."""

from core.threads import default_to_one_thread

default_to_one_thread()
