import sys

from world_models.cli import main

sys.exit(main())
