"""A foreign app for the compose smoke test: plain Celery by task name, no Hauler import.

Run as a script (``python foreign_app.py BROKER SOURCE_URL UPLOAD_URL``): downloads a
video with ``downloads.fetch``, whose ``then`` chain makes its sprite with ``media.sprite``,
then uploads the sprite with ``uploads.push``; prints the three results as JSON.
"""

from __future__ import annotations

import json
import sys

from celery import Celery


def main(broker: str, source_url: str, upload_url: str) -> dict[str, object]:
    app = Celery("foreign-app", broker=broker, backend=broker)
    app.conf.task_serializer = app.conf.result_serializer = "json"
    sprite_step = {"task": "media.sprite", "kwargs": {"cols": 2, "rows": 2, "width": 64}}
    fetched = app.send_task(
        "downloads.fetch", args=[source_url], kwargs={"then": [sprite_step]}, queue="downloads"
    ).get(timeout=150)
    sprite = app.AsyncResult(fetched["then"]).get(timeout=150)
    pushed = app.send_task(
        "uploads.push", args=[sprite["sprite"], upload_url], queue="uploads"
    ).get(timeout=150)
    imported = sorted(m for m in sys.modules if m.split(".")[0] in ("hauler", "tasks", "workers"))
    return {"fetched": fetched, "sprite": sprite, "pushed": pushed, "imported": imported}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
