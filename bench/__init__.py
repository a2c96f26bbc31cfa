"""Benchmarks: throughput and memory of the ingest pipeline against its limits."""
