"""Measurement helpers shared by the demo and the benchmark: statistics, machine facts, PNG reports."""
