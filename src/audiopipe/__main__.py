import sys

from audiopipe.cli import main

sys.exit(main())
