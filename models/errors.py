"""One convention for the rules the domain refuses: a stable reason code and its details.

Models raise ``SomeError("code", key=value…)``; handlers turn the code into words from
bot/texts (WeChat replies, console messages) or into an HTTP status and message. A code
never changes meaning; a new refusal gets a new code and a wording in bot/texts.
"""

from __future__ import annotations

from typing import Any


class DomainError(ValueError):
    """A domain rule broken: ``code`` says which, ``details`` what the words may need."""

    def __init__(self, code: str, /, **details: Any):
        super().__init__(code)
        self.code = code
        self.details = details

    @property
    def reason(self) -> str:  # the name callers used before the convention
        return self.code

    @property
    def info(self) -> dict[str, Any]:
        return self.details

    def __repr__(self) -> str:
        more = "".join(f", {k}={v!r}" for k, v in self.details.items())
        return f"{type(self).__name__}({self.code!r}{more})"


class BadRow(ValueError):
    """A row of an import file (or an API's JSON object) that cannot be taken: the reason,
    for the operator, naming the field."""
