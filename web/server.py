"""gunicorn settings for Roster: `gunicorn -c python:web.server wsgi:app` (`roster serve` uses them too).

With PROMETHEUS_MULTIPROC_DIR set, every worker writes its metrics to files in that directory: the master
empties it when it starts (samples of an earlier run would otherwise be added to this one's) and drops a dead
worker's live gauges (prometheus_client's `mark_process_dead`), so /metrics adds up the living workers.
"""

import glob
import os

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server):
    """Empty the metrics directory of an earlier run."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """Drop the live gauges of a worker that exited."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
