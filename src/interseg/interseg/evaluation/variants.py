"""Configuration variants given on a benchmark's command line: ``FIELD=VALUE[,FIELD=VALUE]`` of a
dataclass's fields, converted to the type of the field's default."""

from __future__ import annotations

from typing import Any


def parse_variant(text: str, config_class: type) -> dict[str, Any]:
    """``"chroma_threshold=0.03,views_agree=false"`` -> ``{"chroma_threshold": 0.03, "views_agree": False}``;
    ValueError naming the known fields for anything else."""
    fields = config_class.__dataclass_fields__
    defaults = config_class()
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in fields or not value:
            raise ValueError(
                f"variant {text!r}: expected FIELD=VALUE[,FIELD=VALUE] with {config_class.__name__} "
                f"fields {sorted(fields)}"
            )
        kind = type(getattr(defaults, key))
        if kind is bool:
            if value.lower() not in ("true", "false"):
                raise ValueError(f"variant {text!r}: {key} takes true or false")
            values[key] = value.lower() == "true"
        else:
            try:
                values[key] = kind(value)
            except ValueError as exc:
                raise ValueError(f"variant {text!r}: {key} takes a {kind.__name__}") from exc
    return values
