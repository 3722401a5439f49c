import sys

from lge_gym.cli import main

sys.exit(main())
