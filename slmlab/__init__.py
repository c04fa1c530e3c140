"""slmlab: the helper package behind the slmlab course on small language models at the edge.

One module per stage of the course; every function returns plain data a notebook can plot and
a test can assert on. The learner still sees the real commands: helpers print what they run.
"""

from slmlab.errors import SlmlabError

__version__ = "0.1.0"
__all__ = ["SlmlabError", "__version__"]
