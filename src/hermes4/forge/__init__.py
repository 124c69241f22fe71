"""DataForge: synthetic data from seeded random walks through graphs of transformation nodes."""
