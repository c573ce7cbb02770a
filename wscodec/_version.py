"""The package version, in one place for the build and for ``wscodec.__version__``."""

__version__ = "0.1.0"
