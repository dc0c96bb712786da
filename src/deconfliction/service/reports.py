"""Position reports in batches: all stored, or (on any bad item) none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deconfliction.domain.model import PositionReport
from deconfliction.service import stored_form
from deconfliction.service.access import Principal
from deconfliction.service.config import MAX_REPORTS_PER_BATCH
from deconfliction.service.core import Service
from deconfliction.service.errors import Forbidden, InvalidInput
from deconfliction.service.validation import validate

#: How many bad items an answer names one by one.
MAX_NAMED = 50


class BatchInvalid(InvalidInput):
    """A batch with bad items; ``details`` names each (up to :data:`MAX_NAMED`)."""

    def __init__(self, problems: list[tuple[str, str]], total: int) -> None:
        named = problems[:MAX_NAMED]
        text = "; ".join(f"{f}: {m}" for f, m in named)
        more = f" (and {total - len(named)} more)" if total > len(named) else ""
        super().__init__(
            f"{total} of the reports are invalid, nothing was stored: {text}{more}",
            field=named[0][0],
        )
        self.details = [{"field": f, "message": m} for f, m in named]

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["error"]["details"] = self.details
        return out


class Reports:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store

    def post(self, who: Principal, data: Any) -> dict[str, Any]:
        if who.role not in ("coordinator", "admin"):
            raise Forbidden(f"an {who.role} token may not post reports")
        if not isinstance(data, list):
            raise InvalidInput("expected a JSON array of reports", field="reports")
        if len(data) > MAX_REPORTS_PER_BATCH:
            raise InvalidInput(
                f"at most {MAX_REPORTS_PER_BATCH} reports per batch, got {len(data)}",
                field="reports",
                code="too_many",
            )
        context = {"now": datetime.now(UTC)}
        problems: list[tuple[str, str]] = []
        reports: list[PositionReport] = []
        for i, item in enumerate(data):
            try:
                reports.append(
                    validate(PositionReport, item, prefix=f"reports[{i}]", context=context)
                )
            except InvalidInput as exc:
                problems.append((exc.field or f"reports[{i}]", _first(exc.message)))
        bad = len(problems)
        with self.service.lock:
            unknown = self._unknown_assets(who, {r.asset_id for r in reports})
            if unknown:
                for i, item in enumerate(data):
                    asset_id = item.get("asset_id") if isinstance(item, dict) else None
                    if asset_id in unknown:
                        problems.append((f"reports[{i}].asset_id", f"unknown asset {asset_id!r}"))
                        bad += 1
            if problems:
                problems.sort(key=lambda p: _index(p[0]))
                raise BatchInvalid(problems, bad)
            stored = self.write(reports, who.actor)
        return {"accepted": stored}

    def write(self, reports: list[PositionReport], actor: str) -> int:
        """Store validated reports in one transaction, then give them to the engine.

        Call under ``service.lock``. The HTTP batch and the CoT gateway both write here.
        """
        rows = [stored_form.report_store_row(r) for r in reports]
        with self.service.writing():
            stored = self.store.add_reports(rows, actor)
            self.service.reports_written(reports)
        if self.service.engine.ready:  # else the loader, still to run, reads them from the store
            self.service.engine.put_reports(reports)
        return stored

    def _unknown_assets(self, who: Principal, asset_ids: set[str]) -> set[str]:
        """Assets that do not exist, or (for a coordinator) are not its party's."""
        known = self.service.asset_party
        unknown: set[str] = set()
        for asset_id in asset_ids:
            if known is not None:
                party = known.get(asset_id)
            else:
                stored = self.store.get("asset", asset_id)
                party = stored.party_id if stored is not None else None
            if party is None or not (who.is_admin or party == who.party_id):
                unknown.add(asset_id)
        return unknown


def _first(message: str) -> str:
    """The message of one item without its field prefix (the field is named separately)."""
    head, sep, tail = message.partition(": ")
    return tail if sep and head.startswith("reports[") else message


def _index(field: str) -> int:
    try:
        return int(field.split("[", 1)[1].split("]", 1)[0])
    except (IndexError, ValueError):
        return -1
