"""Error types shared by every app."""

from __future__ import annotations

from typing import Any


class FieldError(Exception):
    """Input that is wrong in one named field. `message` is user-safe.

    Services raise it (or a domain subclass) instead of a "field: message" string;
    forms put it on the field (`add_field_error`), the API names the field.
    """

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(message)
        self.field = field
        self.message = str(message)


def add_field_error(form: Any, error: FieldError) -> None:
    """Show a FieldError on its form field, or on the whole form if it has no such field."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
