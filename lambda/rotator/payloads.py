"""The data passed between the workflow's states, typed so that the contract between them is
checked (mypy). Only names, key ids and short reasons: never a secret access key."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # annotations stay strings at run time, so older runtimes need not have it
    from typing_extensions import NotRequired


class Rotation(TypedDict):
    """The run a rotation belongs to: its id names every user's lock."""

    id: str
    executionArn: str
    scheduledTime: NotRequired[str]


class User(TypedDict):
    username: str
    metadata: NotRequired[str]
    accountId: NotRequired[str]
    path: NotRequired[str]  # the user's declared IAM path; absent: "/"; "*": any


class Batch(TypedDict):
    """Usernames of one child execution, and the users-list parameters that hold them."""

    parameters: list[str]
    usernames: list[str]


class UserResult(TypedDict):
    """What happened to one user in a batch's hand-off (RotateKey, HandOff, RollBack, Skipped)."""

    username: str
    status: str  # HANDED_OFF, UNCERTAIN, SKIPPED or FAILED
    error: NotRequired[str]
    cause: NotRequired[str]
    inactiveKeysDeleted: NotRequired[list[str]]
    halfDelivered: NotRequired[bool]  # PartiallyDeliveredError, retries spent


class BatchSummary(TypedDict):
    """A batch's result as data, bounded in size whatever happened. After the hand-off: handedOff
    and uncertain name the users the clean-up takes over; after the clean-up, rotated names those
    whose old key was retired, unconfirmed those of them whose switch the usage check could not see
    (neither key used). While some users wait for another usage check, the clean-up returns the
    batch again (status HANDED_OFF, pending, checkedAt) with them in handedOff and uncertain. details (and actions, what was done about a failure) give reasons
    within a budget; omitted counts the reasons left out (they are in the batch's logs)."""

    users: int
    handedOff: list[str]
    uncertain: list[str]
    rotated: list[str]
    unconfirmed: NotRequired[list[str]]
    skipped: list[str]
    failed: list[str]
    details: dict[str, str]
    actions: dict[str, str]
    omitted: int
    # Users whose hand-off was half written: the clean-up keeps their secrets for the next run.
    halfDelivered: NotRequired[list[str]]
    # Inactive keys deleted to make room for the new key, by user (reported, never silent).
    inactiveKeysDeleted: NotRequired[dict[str, list[str]]]
