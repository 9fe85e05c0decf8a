"""User-facing errors: every one names the field (or file) and the fix."""

from __future__ import annotations

from pathlib import Path


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


def read_text(path: Path, field: str, missing_fix: str) -> str:
    """The UTF-8 text of the file an option (`field`) names: an IotwsError naming the option
    when the file is missing (with `missing_fix`) or cannot be read. The text is the file
    verbatim (no newline translation: `Spec.text` is the spec file as written)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise IotwsError(f"no such file: {path}", field=field, fix=missing_fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IotwsError(f"cannot read {path}: {exc}", field=field) from None


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
