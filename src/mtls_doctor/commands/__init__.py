"""One module per command: ``add_arguments(parser)`` and ``run(args, ui) -> int``.

Modules import only the standard library at top level; heavy imports happen
inside ``run`` so ``mtls-doctor --help`` stays fast.
"""
