"""The JSON Schema of the suite format, for editors (``"$schema"`` or VS Code's json.schemas).

The shipped copy is ``llmbench/schema/suite.schema.json``; regenerate it after changing
:mod:`llmbench.suite.models` with ``python -m llmbench.suite.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmbench.suite.models import Suite

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "suite.schema.json"


def suite_json_schema() -> dict[str, Any]:
    """The schema generated from the pydantic models."""
    schema = Suite.model_json_schema()
    defs = schema["$defs"]
    test = defs["TestCase"]["properties"]
    del test["limits"]  # written as keys of the test itself (TestCase._gather_limits)
    test.update(defs.pop("TestLimits")["properties"])
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llmbench test suite"
    return schema


def render() -> str:
    """The schema as the text of the shipped file."""
    return json.dumps(suite_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
