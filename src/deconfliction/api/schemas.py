"""Response shapes, for the OpenAPI document only (answers are serialised with orjson)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid`, `not_found`.")
    message: str = Field(description="What went wrong, naming the offending value.")
    field: str | None = Field(
        default=None, description="Dotted path of the offending input, e.g. `position.lat`."
    )
    treat_as: Literal["HOLD"] | None = Field(
        default=None,
        description="Present when the service could not give a complete answer: "
        "the client must treat the point as HOLD.",
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class FeatureConflictOut(BaseModel):
    feature: str
    cue: str | None


class OwnerResponseOut(BaseModel):
    response: str
    by: str
    at: str


class MatchOut(BaseModel):
    kind: Literal["asset", "movement", "area", "site"] | None = Field(
        description="null when details are withheld"
    )
    id: str | None = Field(description="null when details are withheld")
    party_id: str
    reasons: list[str]
    reason_codes: list[str]
    feature_conflicts: list[FeatureConflictOut]
    stale: bool
    details_withheld: bool
    contact: str | None
    owner_response: OwnerResponseOut | None


class CoverageGapOut(BaseModel):
    party_id: str
    reason: str


class CheckAnswer(BaseModel):
    """The answer to a check.

    `HOLD`: at least one registered friendly or protected asset could be at the point at
    the time. `NO_KNOWN_MATCH`: nothing registered could be there — this is never a
    clearance, only the absence of a known match (read `coverage_gaps`).
    """

    id: str
    verdict: Literal["HOLD", "NO_KNOWN_MATCH"]
    matches: list[MatchOut] = Field(description="At most 50, most relevant first.")
    match_count: int
    valid_until: str = Field(description="The earliest time this answer may change (UTC).")
    coverage_gaps: list[CoverageGapOut]
    evaluated_at: str


class Page(BaseModel):
    items: list[dict[str, Any]]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class ReportsAccepted(BaseModel):
    accepted: int = Field(description="How many reports were stored (all of them).")


class Health(BaseModel):
    status: Literal["ok"]


class Version(BaseModel):
    name: str
    version: str
    api: str


class AuditProblem(BaseModel):
    seq: int
    code: str
    message: str


class Ready(BaseModel):
    ready: bool
    load_seconds: float | None
    audit: str = Field(
        description="The audit log's start-up check: checking, intact, unchecked, "
        "'broken at seq N' or 'cut after seq N'."
    )
    audit_problem: AuditProblem | None


class CheckRecording(BaseModel):
    records: int = Field(description="Checks recorded since the server started.")
    groups: int = Field(description="Transactions that recorded them (group commit).")
    largest: int = Field(description="The most checks one transaction recorded.")
    lock_held_s: float = Field(
        description="Seconds those transactions held the database's write lock, in all."
    )
    lock_held_us_per_check: float | None
    failed_groups: int = Field(
        description="Groups whose transaction failed (then retried one by one)."
    )
    failed_records: int = Field(description="Checks that could not be recorded (answered 503).")


class TokenIssued(BaseModel):
    token: str = Field(description="Shown once; the server keeps only its hash.")
    token_id: str
    role: str
    unit_id: str | None
    party_id: str | None
    expires_at: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed JSON (`invalid_json`).",
        401: "No, wrong, expired or revoked token.",
        403: "The token's role or unit may not do this.",
        404: "Unknown, or not visible to this token (never confirms existence).",
        409: "Duplicate id (`already_exists`), still named elsewhere (`in_use`).",
        413: "Body over the endpoint's size limit.",
        422: "Invalid input; `field` names it.",
    }.items()
}
