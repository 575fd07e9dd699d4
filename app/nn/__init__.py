"""The math: a small fully connected network in float64 numpy. Imports numpy only."""
