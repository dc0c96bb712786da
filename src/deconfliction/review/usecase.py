"""Who may have a review, and the review's inputs as the CLI and the API take them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from deconfliction.domain.errors import DomainError
from deconfliction.review.build import ReviewBuilder
from deconfliction.review.incident import Incident, ReviewInputError
from deconfliction.review.pages import check_limit, decode_cursor, paginate
from deconfliction.service.access import Principal
from deconfliction.service.errors import Forbidden, InvalidInput
from deconfliction.usecases import UseCases

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, field: str) -> timedelta:
    """``90m``, ``6h``, ``2d``, ``30s`` (or a number of hours)."""
    match = _DURATION.match(text)
    if match is None:
        try:
            return timedelta(hours=float(text))
        except ValueError:
            raise InvalidInput(
                f"{field} must be a duration like 90m, 6h or 2d, got {text!r}", field=field
            ) from None
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def parse_at(text: str, field: str = "at") -> datetime:
    """An RFC 3339 time with a zone."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} must be an RFC 3339 time, got {text!r}", field=field) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone (e.g. Z), got {text!r}", field=field)
    return value.astimezone(UTC)


def parse_near(text: str, field: str = "near") -> tuple[float, float]:
    """``LAT,LON`` in degrees."""
    parts = text.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"{field} must be LAT,LON in degrees, got {text!r}", field=field
        ) from None
    return lat, lon


def review(uc: UseCases, who: Principal, incident: Incident) -> dict[str, Any]:
    """The review for ``who``: coordinators (their party's view) and admins (everything).

    An operator acts for one unit; reconstructing an incident across units is the
    coordination cell's work, so operator tokens are refused (403)."""
    if who.role not in ("coordinator", "admin"):
        raise Forbidden(f"an {who.role} token may not have a review; use a coordinator's")
    try:
        return ReviewBuilder(uc, who, incident).build()
    except ReviewInputError as exc:
        raise InvalidInput(str(exc), field=exc.field) from None
    except DomainError as exc:
        raise InvalidInput(str(exc), field=exc.field) from None


def review_page(
    uc: UseCases, who: Principal, incident: Incident, limit: int | None, cursor: str | None
) -> dict[str, Any]:
    """One page of the review for ``who`` (``GET /v1/review``): at most ``limit`` items
    (default and most 1,000) after ``cursor`` (the previous page's ``page.next``)."""
    size = check_limit(limit)
    after = decode_cursor(incident, cursor) if cursor else None
    return paginate(review(uc, who, incident), incident, limit=size, after=after)


def whole_review(uc: UseCases, who: Principal, incident: Incident) -> dict[str, Any]:
    """Every page of the review in one (the CLI's files: no response body to bound), in
    the pages' order."""
    return paginate(review(uc, who, incident), incident, limit=None, max_bytes=None)
