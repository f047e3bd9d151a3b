"""Benchmarks of ignite-zoo: ``python bench/run.py [--quick] [--json] [--only NAME]``.

One module per group of rows; each has ``run(quick) -> list of rows`` where a row is
``{"name", "value", "unit", "target", "met"}`` (``target`` a string such as ``"<= 1.02"``
or None, ``met`` True/False/None).
"""
