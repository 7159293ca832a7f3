"""Thin entry shim: ``python cli.py ...`` is the same as the ``gzcharge`` command."""

from gzcharge.cli import main

if __name__ == "__main__":
    main()
