from __future__ import annotations

import sys
from pathlib import Path

# Lets tests use the shared schemas as "schema_models:Settings", like a user's module.
sys.path.insert(0, str(Path(__file__).parent))
