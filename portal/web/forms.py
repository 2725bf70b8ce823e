"""Form pieces shared by several areas."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import StopValidation

from portal.services.errors import InvalidInput


def stop_if_missing(form: Any, field: Field) -> None:
    """Stop at "not a valid number": a range check on no value would add a second, wrong message."""
    if field.data is None:
        raise StopValidation()


def attach_errors(form: FlaskForm, error: InvalidInput) -> None:
    """Put a service's field errors beside the matching fields (or on the form)."""
    for name, message in error.errors.items():
        field: Any = form
        for part in name.split("-"):
            field = _child(field, part)
            if field is None:
                break
        if field is not None and hasattr(field, "errors"):
            errors = field.errors
            if isinstance(errors, tuple):
                field.errors = [*errors, message]
            else:
                errors.append(message)
        else:
            form.form_errors.append(message)


def _child(field: Any, part: str) -> Any:
    if part.isdigit():
        entries = getattr(field, "entries", None)
        index = int(part)
        if entries is not None and index < len(entries):
            return entries[index].form if hasattr(entries[index], "form") else entries[index]
        return None
    if hasattr(field, "_fields"):
        return field._fields.get(part)
    form = getattr(field, "form", None)
    if form is not None and hasattr(form, "_fields"):
        return form._fields.get(part)
    return None
