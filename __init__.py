"""ignite-zoo: a plugin-registry model zoo for image classification and semantic
segmentation, trained with pytorch-ignite.

The one import name. Its subpackages are the repository's top-level folders
(``setup.cfg``'s ``package_dir`` maps them): ``ignite_zoo.registry`` (registries, recipes,
errors), ``ignite_zoo.zoo`` (models, losses, data), ``ignite_zoo.engines`` (Ignite
engines, handlers, inference, reports), ``ignite_zoo.tools`` (the commands) and
``ignite_zoo.recipes`` (the shipped recipes). Importing this package imports nothing else,
so ``ignite-zoo --help`` stays fast; a plugin imports what it needs, e.g.
``from ignite_zoo.registry import HEADS``.
"""
