"""Simulated workloads for the demo, tests and benchmarks: citizens and an office's agents.

Nothing here runs in production; it drives the real processors over the real broker.
"""
