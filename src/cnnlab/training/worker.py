"""The child process of a :class:`~cnnlab.training.jobs.Job`: runs ``train`` and prints each event as a JSON line.

Started as ``python -m cnnlab.training.worker SPEC_JSON``; exit code 0 finished, 2 refused or failed for a
reason the user can fix, 130 interrupted, 1 a bug (with its traceback on standard error).
"""

from __future__ import annotations

import json
import signal
import sys
import traceback

from cnnlab.errors import CnnlabError, Interrupted
from cnnlab.training.events import END_EVENTS
from cnnlab.training.run import train


def _worker(spec: dict) -> int:
    """The child process: run ``train`` and print every event as one JSON line on stdout."""
    ended = []

    def emit(event: dict) -> None:
        if event["event"] in END_EVENTS:
            ended.append(event)
        print(json.dumps(event, default=str), flush=True)

    try:
        train(spec["config"], out=spec["out"], resume=spec["resume"], overwrite=spec["overwrite"],
              progress=False, on_event=emit)
        return 0
    except Interrupted as e:
        if not ended:
            emit({"event": "interrupted", "run": spec["out"], "message": str(e), "resume": True})
        return 130
    except CnnlabError as e:  # refused before it started (a bad option, a folder in use)
        if not ended:
            emit({"event": "failed", "run": spec["out"], "message": str(e), "kind": "user"})
        return 2
    except Exception as e:  # a bug: keep the traceback for the report
        if not ended:
            emit({"event": "failed", "run": spec["out"], "message": f"{type(e).__name__}: {e}", "kind": "bug"})
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(_worker(json.loads(sys.argv[1])))
