"""The published contract: every error an operation can answer is a documented problem."""

from __future__ import annotations

from api.app import create_app
from facility.settings import Settings


def test_every_error_response_is_a_documented_problem() -> None:
    spec = create_app(Settings(env="test")).openapi()
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {c: r for c, r in operation["responses"].items() if c[0] in "45"}
            if path != "/health" and "422" not in errors:
                undocumented.append(f"{method.upper()} {path}: no 422")
            for code, response in errors.items():
                if "application/problem+json" not in response.get("content", {}):
                    undocumented.append(f"{method.upper()} {path}: {code} is not a problem")
    assert undocumented == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "Problem" in spec["components"]["schemas"]
