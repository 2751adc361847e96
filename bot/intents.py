"""The intent ids fixed by SPEC.md. The NLU must output exactly these names."""

from typing import Final

SOCIAL: Final = ("greet", "goodbye", "thanks", "help", "bot_challenge")
SERVICE: Final = (
    "who_is_my_caseworker",
    "leave_message",
    "urgent_help",
    "talk_to_someone",
    "privacy",
    "delete_my_data",
)
RIGHTS: Final = (
    "rights_overview",
    "right_to_be_heard",
    "child_conversation",
    "support_person",
    "party_rights",
    "complaint",
    "access_to_records",
    "free_lawyer",
    "placement",
    "contact_with_parents",
    "child_plan",
    "change_caseworker",
    "aftercare",
    "concern_report",
    "support_measures",
)
FALLBACK: Final = "out_of_scope"
URGENT: Final = "urgent_help"

ALL: Final[tuple[str, ...]] = (*SOCIAL, *SERVICE, *RIGHTS, FALLBACK)
