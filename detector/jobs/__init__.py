"""Many tracks at once: :func:`analyze_batch` (in process, reusing the history).

The names load their module on first use (``lazy_loader``, see :mod:`detector`).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "batch": ["BatchResult", "analyze_batch"],
})
