"""kfresearch benchmarks: ``make bench`` (``python -m bench``). Results in bench/README.md."""
