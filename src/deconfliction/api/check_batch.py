"""Checks that arrive together on the event loop are recorded together.

The check runs on the event loop (``fastpath.py``). A check the engine has answered waits
here for its record; the first of a turn of the loop asks for a flush at the end of it
(``call_soon``), so every check that reached this point in the same turn (requests that
arrived while the previous flush held the loop) is recorded in the same transaction
(``service/groupcommit.py``). A lone check waits for nothing but that one turn: no timer,
no thread. The flush blocks the loop for its transaction, as recording a check always
did; the answers leave once their group has committed.
"""

from __future__ import annotations

import asyncio
import logging

from deconfliction.service.checks import Answered, Checks

log = logging.getLogger("deconfliction.api")


_Waiting = list[tuple[Answered, "asyncio.Future[None]"]]


class CheckBatch:
    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        #: Per event loop (one in a server; tests may run several), the checks waiting.
        self._waiting: dict[asyncio.AbstractEventLoop, _Waiting] = {}

    async def record(self, answered: Answered) -> None:
        """Until ``answered`` is recorded, or has its ``error``."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._flush, loop)
        waiting.append((answered, done))
        await done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.pop(loop, [])
        try:
            self.checks.record([answered for answered, _ in waiting])
        except BaseException as exc:  # never an answer without its record
            for _, done in waiting:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            log.exception("recording a group of checks failed")
            return
        for _, done in waiting:
            if not done.done():  # else a cancelled request (the client went away)
                done.set_result(None)
