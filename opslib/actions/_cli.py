"""The equivalent shell command of a change, pasteable as printed."""
from __future__ import annotations

import json
import shlex
from typing import Any


def aws(service: str, operation: str, region: str | None, /, **options: Any) -> str:
    """``aws SERVICE OPERATION --opt value ... --region REGION`` (dicts/lists as JSON, True as a flag)."""
    parts = ["aws", service, operation]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (dict, list)):
            parts += [flag, shlex.quote(json.dumps(value, separators=(",", ":")))]
        else:
            parts += [flag, shlex.quote(str(value))]
    if region:
        parts += ["--region", region]
    return " ".join(parts)
