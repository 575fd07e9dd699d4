"""Deltaflow: an interactive visualizer of backpropagation."""

__version__ = "0.1.0"
