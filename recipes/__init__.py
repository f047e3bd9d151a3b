"""The recipes shipped with ignite-zoo (YAML files; this package holds no code).

A recipe argument or ``_base_`` entry that is not a file may name one of these
(``seg_demo`` or ``seg_demo.yaml``); ``registry.recipe.shipped_recipes()`` lists them.
"""
