"""The child process of an experiment job: runs claims and prints each event as a JSON line.

Started as ``python -m cnnlab.prove.worker SPEC_JSON`` (through :meth:`cnnlab.training.jobs.Job.run_worker`)
with ``{"claim", "budget", "seeds", "out"}``. It ends with a "finished" event (the results' summary), or
"failed" / "interrupted"; exit code 0 finished, 2 refused for a reason the user can fix, 130 interrupted (the
trials done so far are kept: the same request goes on where it stopped), 1 a bug.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback

from cnnlab.errors import CnnlabError
from cnnlab.prove.runner import run_claims


def summary(results: dict) -> list[dict]:
    """One line per claim: name, title, verdict, the headline and its numbers."""
    out = []
    for c in results["claims"]:
        head = c["comparisons"][0] if c["comparisons"] else None
        out.append({"name": c["name"], "title": c["title"], "verdict": c["verdict"], "headline": c["headline"],
                    "summary": head["summary"] if head else None, "unit": head["unit"] if head else ""})
    return out


def _worker(spec: dict) -> int:
    def emit(event: dict) -> None:
        print(json.dumps(event, default=str), flush=True)

    try:
        results = run_claims(spec["claim"], seeds=spec.get("seeds"), budget=spec.get("budget", "quick"),
                             out=spec["out"], progress=False, on_event=emit)
        emit({"event": "finished", "result": {"claims": summary(results), "out": spec["out"]}})
        return 0
    except KeyboardInterrupt:
        emit({"event": "interrupted", "message": "stopped; the trials that finished are kept: run it again to go on",
              "resume": True})
        return 130
    except CnnlabError as e:
        emit({"event": "failed", "message": str(e), "kind": "user"})
        return 2
    except Exception as e:  # a bug: keep the traceback for the report
        emit({"event": "failed", "message": f"{type(e).__name__}: {e}", "kind": "bug"})
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(_worker(json.loads(sys.argv[1])))
