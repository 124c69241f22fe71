"""hermes4: the Hermes 4 post-training system as one toolkit."""

__version__ = "0.1.0"
