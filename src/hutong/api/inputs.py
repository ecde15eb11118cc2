"""Building blocks of every capability's request bodies: strict (a ``false`` is not a number,
``"1"`` is not an integer) and closed (an unknown field is an error, not silently dropped)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Fen = Annotated[StrictInt, Field(ge=0, le=10**15)]  # money: integer fen (CNY cents)
PositiveFen = Annotated[StrictInt, Field(gt=0, le=10**15)]
Slug = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Name = Annotated[StrictStr, Field(min_length=1, max_length=120)]
Currency = Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")]
ObjectId = Annotated[StrictStr, Field(pattern=r"^[a-z]{2,4}_[0-9a-z]{20}$")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")
