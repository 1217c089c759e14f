"""``python -m relaykit``: the same as the ``relaykit`` command."""

import sys

from relaykit.cli import main

sys.exit(main())
