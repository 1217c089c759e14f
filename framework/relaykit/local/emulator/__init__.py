"""A local AWS Lambda that tells the truth: real Runtime API, real subprocesses, real deadlines.

* :class:`Emulator` runs functions (:class:`FunctionConfig`) in execution environments
  (one runtime subprocess each, SIGKILLed at the deadline), serves the Invoke API for boto3
  (``Invoke``, ``Event`` with retries, ``DryRun``, ``InvokeWithResponseStream``) and a Function
  URL front per function (BUFFERED or RESPONSE_STREAM).
* :mod:`.eventstream` encodes and decodes AWS event stream frames on its own.

See ``docs/lambda-emulator.md``.
"""

from .async_queue import AsyncInvocationRecord
from .config import FunctionConfig, InvokeMode
from .emulator import Emulator, stderr_log_sink
from .environment import ExecutionEnvironment
from .invocation import ChunkRecord, Invocation, InvocationResult
from .pool import FunctionPool, ThrottledError
from .prelude import Prelude
from .runtime_api import RuntimeAPI, RuntimeOutcome

__all__ = [
    "AsyncInvocationRecord",
    "ChunkRecord",
    "Emulator",
    "ExecutionEnvironment",
    "FunctionConfig",
    "FunctionPool",
    "Invocation",
    "InvocationResult",
    "InvokeMode",
    "Prelude",
    "RuntimeAPI",
    "RuntimeOutcome",
    "ThrottledError",
    "stderr_log_sink",
]
