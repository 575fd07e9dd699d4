"""Benchmarks of the engine, the server and the page; `python benchmarks/run.py [--quick]`."""
