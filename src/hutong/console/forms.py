"""Reading the console's forms: urlencoded bodies, money typed in yuan, and errors put beside
the field they concern, in the user's language.

A form is validated by the same pydantic models as the API, so the console accepts exactly
what the API accepts; their errors are mapped to the form's field names and translated here.
"""

from __future__ import annotations

import urllib.parse
from decimal import Decimal, InvalidOperation

from fastapi import Request
from pydantic import ValidationError

FIELD_ERRORS: dict[str, tuple[str, str]] = {  # pydantic error type: (zh, en)
    "missing": ("必填", "Required"),
    "string_too_short": ("不能为空", "Cannot be empty"),
    "string_too_long": ("太长了", "Too long"),
    "string_pattern_mismatch": ("格式不正确", "Not in the expected form"),
    "greater_than_equal": ("数值太小", "Too small"),
    "greater_than": ("数值太小", "Too small"),
    "less_than_equal": ("数值太大", "Too large"),
    "int_type": ("请填写整数", "Enter a whole number"),
    "int_parsing": ("请填写整数", "Enter a whole number"),
    "literal_error": ("不是可选的值", "Not one of the choices"),
    "enum": ("不是可选的值", "Not one of the choices"),
    "url_parsing": ("网址不正确", "Not a valid URL"),
    "yuan": ("金额格式不正确（最多两位小数）", "Enter an amount in yuan, at most two decimals"),
    "positive": ("金额必须大于零", "The amount must be above zero"),
}
OTHER = ("输入无效", "Invalid input")


class FieldError(Exception):
    def __init__(self, field: str, kind: str) -> None:
        super().__init__(f"{field}: {kind}")
        self.field = field
        self.kind = kind


async def read_form(request: Request) -> dict[str, list[str]]:
    body = (await request.body()).decode("utf-8", "replace")
    return urllib.parse.parse_qs(body, keep_blank_values=True)


def first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def fen_of(form: dict[str, list[str]], name: str) -> int:
    """An amount typed in yuan (``12.5``, ``12.50``) as integer fen; never through float."""
    text = first(form, name).replace(",", "").replace("¥", "")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise FieldError(name, "yuan") from exc
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value():
        raise FieldError(name, "yuan")
    if fen <= 0:
        raise FieldError(name, "positive")
    return int(fen)


def message(kind: str, lang: str) -> str:
    pair = FIELD_ERRORS.get(kind, OTHER)
    return pair[0] if lang == "zh" else pair[1]


def errors_of(
    exc: ValidationError, lang: str, names: dict[str, str] | None = None
) -> dict[str, str]:
    """Each field's first error, translated; ``names`` maps the model's fields to the form's."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"][0] if error["loc"] else ""
        field = (names or {}).get(str(loc), str(loc))
        out.setdefault(field, message(str(error["type"]), lang))
    return out
