"""A reply's WhatsApp template, as the agents' app names it, checked before it is accepted.

Outside the 24 hours after a citizen's last message WhatsApp takes only approved templates
(connectors.whatsapp.window); an agent reaches such a citizen by naming one:
`{"name": ..., "language": ..., "parameters": [strings]}`. Meta refuses a bad name, language
or body parameter only at send time, after the gateway answered 202 and the outbound loop
took the message: the agent would learn it from a failed delivery status, minutes later. So
what Meta is known to refuse is refused here, at once, field by field:
- the name: lowercase letters, digits and underscores, at most 512 characters (WhatsApp
  Manager's rule for template names);
- the language: a code as Meta lists them, `es`, `pt_BR`, `en_US` (language, then an
  optional region);
- the parameters: at most MAX_TEMPLATE_PARAMETERS strings, each non-blank and at most
  MAX_TEMPLATE_PARAMETER_CHARS characters, without newlines, tabs, control characters or
  more than four spaces in a row (Meta's error 132018 for body parameters).
Whether the template exists and is approved, and how many parameters it takes, only Meta
knows: a mismatch fails the delivery with Meta's code.

Problems name the field (`template.name`, `template.parameters[2]`) and never quote the
value: parameters are the citizen's data (sealed on the log).

Pure. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import orjson

MAX_TEMPLATE_NAME_CHARS: Final = 512
MAX_TEMPLATE_PARAMETERS: Final = 20
MAX_TEMPLATE_PARAMETER_CHARS: Final = 1024  # a template body's own limit: no parameter fits above
_NAME = re.compile(rf"[a-z0-9_]{{1,{MAX_TEMPLATE_NAME_CHARS}}}")
_NAME_FORM: Final = f"an approved template's name: 1 to {MAX_TEMPLATE_NAME_CHARS} of a-z 0-9 _"
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")
_LANGUAGE_FORM: Final = "a language code, e.g. pt_BR, en_US or es"
_FORBIDDEN_IN_PARAMETER = re.compile(r"[\x00-\x1f\x7f]| {5,}")
_KEYS: Final = frozenset({"name", "language", "parameters"})

TemplateProblem = tuple[str, str]
"""A problem's field and reason."""


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    language: str
    parameters: tuple[str, ...]

    def parameters_json(self) -> str | None:
        """MessageSent's template_parameters: a JSON array of strings; None when there are
        none, so nothing is sealed for a template without variables."""
        return orjson.dumps(list(self.parameters)).decode() if self.parameters else None


def read_template(value: object, field: str = "template") -> Template | list[TemplateProblem]:
    """The template `value` names, or every problem with it."""
    if not isinstance(value, dict):
        return [(field, 'an object: {"name", "language", "parameters"}')]
    problems: list[TemplateProblem] = [
        (f"{field}.{key}", "unknown field") for key in value if key not in _KEYS
    ]
    name = _checked(value.get("name"), _NAME, f"{field}.name", _NAME_FORM, problems)
    language = _checked(
        value.get("language"), _LANGUAGE, f"{field}.language", _LANGUAGE_FORM, problems
    )
    parameters = _parameters(value.get("parameters"), f"{field}.parameters", problems)
    if problems or name is None or language is None:
        return problems
    return Template(name, language, parameters)


def _checked(
    value: object, form: re.Pattern[str], field: str, reason: str, problems: list[TemplateProblem]
) -> str | None:
    if value is None:
        problems.append((field, "required"))
    elif not isinstance(value, str) or form.fullmatch(value) is None:
        problems.append((field, reason))
    else:
        return value
    return None


def _parameters(value: object, field: str, problems: list[TemplateProblem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append((field, "a list of strings"))
        return ()
    if len(value) > MAX_TEMPLATE_PARAMETERS:
        problems.append((field, f"at most {MAX_TEMPLATE_PARAMETERS} parameters"))
        return ()
    for index, item in enumerate(value):
        at = f"{field}[{index}]"
        if not isinstance(item, str):
            problems.append((at, "a string"))
        elif not item.strip():
            problems.append((at, "not blank"))
        elif len(item) > MAX_TEMPLATE_PARAMETER_CHARS:
            problems.append((at, f"at most {MAX_TEMPLATE_PARAMETER_CHARS} characters"))
        elif _FORBIDDEN_IN_PARAMETER.search(item):
            problems.append(
                (at, "one line: no newline, tab or control character, nor 5 spaces in a row")
            )
    return tuple(value)
