"""The training methods, listed by name.

Each name in METHODS is a module of this package that keeps the contract in
`common/contract.py`; the run machinery (training/configs.py) offers exactly these. A module of
this package that is not listed is not a method: `common/` holds what methods share, and
`toys.py` holds toy tasks with known answers for tests and benches. Adding a method is adding its
module and its name here.
"""

METHODS = ("janus", "pal", "progress", "salmon", "vpl")
