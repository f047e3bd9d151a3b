"""The shipped recipes (YAML files), installed with the package as data."""
