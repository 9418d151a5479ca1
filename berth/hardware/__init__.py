"""Lock-control hardware behind a small driver interface (see driver.py)."""
