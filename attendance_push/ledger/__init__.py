"""The ledger of pushed records: written with each push, read to correct and to undo one, pruned with age.

Every record a push creates and every check-out it fills gets a `PushedRecord` row in the push's own
transaction (`sql.py` writes them with the records). `write` keeps what each rule wrote,
`held` finds the records that still hold it, `corrections` fixes earlier pushes of a day, `undo`
takes a push back, `prune` forgets old ledgers and runs (import `undo` and `prune` from their
modules: a function of the same name here would hide the module). The ledger never calls back into the push.
"""

from .corrections import Decision, correct_earlier, earlier_runs, standing_on_closed_days, withdraw_earlier
from .held import forced_closed, standing_runs, undone_by
from .undo import refusal
from .write import person_key

__all__ = [
    "Decision",
    "correct_earlier",
    "earlier_runs",
    "forced_closed",
    "person_key",
    "refusal",
    "standing_on_closed_days",
    "standing_runs",
    "undone_by",
    "withdraw_earlier",
]
