"""User-facing errors: every one names the field (or file) and the fix."""

from __future__ import annotations


class IotwsError(Exception):
    """An error the CLI reports as one clear message and a non-zero exit, never a traceback."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None) -> None:
        self.field = field
        self.fix = fix
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class SpecError(IotwsError):
    """The access spec is invalid. `errors` holds every problem found, not just the first."""

    def __init__(self, errors: list[IotwsError]) -> None:
        self.errors = errors
        first = errors[0] if errors else IotwsError("invalid access spec")
        super().__init__(first.message, field=first.field, fix=first.fix)

    def render(self) -> str:
        errs = getattr(self, "errors", None)
        if not errs:
            return super().render()
        lines = [f"access spec has {len(errs)} error(s):"]
        lines += [f"  - {e.render()}" for e in errs]
        return "\n".join(lines)
