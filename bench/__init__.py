"""Benchmarks: each module has ``main()`` and prints figures beside a baseline from the same run."""
