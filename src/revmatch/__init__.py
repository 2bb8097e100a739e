"""revmatch: reviewer assignment and review calibration for large conferences."""

__version__ = "0.1.0"
