"""Version of the Python package; kept equal to the crate version in Cargo.toml (tested)."""

__version__ = "0.1.0"
