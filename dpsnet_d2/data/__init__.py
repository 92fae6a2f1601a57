"""Data: RPC-style datasets, the dataset mapper, density targets and the synthetic RPC generator."""
