"""Comparisons, statistics, the compare grid, bundles and exports."""
