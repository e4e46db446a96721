"""``python -m fastops``: the fastops command line (see ``fastops._cli``)."""

import sys

from fastops._cli import main

if __name__ == "__main__":
    sys.exit(main())
