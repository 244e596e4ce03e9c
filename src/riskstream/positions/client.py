"""Asking the position keeper for a change: request/reply over topics.

:class:`PositionRequester` publishes a :class:`~riskstream.core.messages.
PositionChangeRequest` on the requests subject and waits for the keeper's
:class:`~riskstream.core.messages.PositionChangeResult` with the same request id on the
results subject. It works the same whether the keeper runs in this process (the service's
embedded keeper, driven here), in another thread (the demo's pipeline) or in another process
over NATS. The request id is the message id, so a request re-sent after a timeout is stored
once by the bus and applied once by the keeper, which answers it with the first answer.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.messages import SUBJECTS, PositionChangeRequest, PositionChangeResult


class PositionRequester:
    """Send position changes to the keeper and wait for its answer.

    Parameters
    ----------
    topics : Topics
    timeout_s : float
        How long to wait for the answer before giving up (the caller answers 503).
    keeper : PositionKeeper, optional
        A keeper in this process that nothing else drives: :meth:`request` polls it
        (the ``riskstream serve`` default: no pipeline, no other process).
    """

    def __init__(self, topics: Any, timeout_s: float = 5.0, keeper: Any = None):
        self.topics = topics
        self.timeout_s = timeout_s
        self.keeper = keeper

    def request(
        self,
        changes: Sequence[tuple[int, int, float]],
        *,
        actor: str,
        role: str,
        reason: str,
        mode: str = "set",
        ts_ns: int = 0,
        request_id: str | None = None,
    ) -> PositionChangeResult:
        """Apply ``changes`` (``(book_id, instrument_id, quantity)``), all or nothing.

        Raises
        ------
        ServiceUnavailableError
            No answer within ``timeout_s`` (the keeper is not running, or is stuck).
        """
        request_id = request_id or secrets.token_hex(12)
        (b, i, q), *more = changes
        message = PositionChangeRequest(
            request_id,
            b,
            i,
            q,
            actor,
            mode,
            reason,
            ts_ns,
            tuple(more),
            role,  # type: ignore[arg-type]
        )
        answers = self.topics.subscribe(SUBJECTS["position_results"])  # from the end now
        try:
            self.topics.publish(SUBJECTS["position_requests"], message, msg_id=request_id)
            if self.keeper is not None:
                self.keeper.poll(0.0)
            deadline = time.monotonic() + self.timeout_s
            while (left := deadline - time.monotonic()) > 0:
                for _, answer in answers.fetch(256, min(left, 0.05)):
                    if answer.request_id == request_id:
                        return answer
            raise ServiceUnavailableError(
                f"the position keeper did not answer request {request_id} within "
                f"{self.timeout_s:g} s; nothing may have been applied yet (retry with the "
                "same request id to apply it at most once)"
            )
        finally:
            answers.close()
