"""ijdp: the India-Japan semiconductor partnership as linked data."""

__version__ = "0.1.0"
