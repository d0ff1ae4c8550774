"""surveytool's research layer: cohort import, anonymization and psychometrics.

``analysis`` depends on ``surveytool``; ``surveytool`` never imports ``analysis``.
"""

from __future__ import annotations

__all__: list[str] = []
