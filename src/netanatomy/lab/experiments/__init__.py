"""The lab's experiments: one module per experiment or small family, found by
:func:`netanatomy.lab.runner.load` (a new experiment is one new file here)."""
