"""``python -m relaykit.lambda_runtime MODULE:APP``."""

import sys

from relaykit.lambda_runtime import main

sys.exit(main())
