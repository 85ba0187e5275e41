"""`python -m lessonbench`: see lessonbench.cli."""

import sys

from lessonbench.cli import main

sys.exit(main())
