"""A source's filters at work in the jobs that take its posts to destinations (``deliver`` and
``archive``): first, whether the post was kept from the destination before (then nothing else
happens); then, once its page is read and before anything is downloaded, whether it passes the
source's filters now. A post kept out is said so on the job's timeline (``POST_FILTERED``, with
the reason), the job completes (a filtered post is no failure) and the decision is written in the
transaction that completes it: from then on no job takes the post there.
"""

from __future__ import annotations

from sqlalchemy import Connection

from tikrelay.domain.events import ReposterEvent
from tikrelay.domain.posts import Post
from tikrelay.reposter.filters import reason_to_skip
from tikrelay.reposter.ledger import Ledger
from tikrelay.reposter.model import DeliverPayload, Routes
from tikrelay.reposter.progress import Progress
from tikrelay.sources.refs import SITE, URL_SOURCE
from tikrelay.store import filtered_sql


class Screen:
    """The filters' side of a deliver or archive job, given what it uses."""

    def __init__(self, routes: Routes, progress: Progress) -> None:
        self.routes = routes
        self.progress = progress

    async def kept_out_before(self, ledger: Ledger, payload: DeliverPayload, name: str) -> bool:
        """Whether the post was kept from destination ``name`` before: then the timeline says
        why, and the job has nothing more to do."""
        reason = await ledger.run(filtered_sql.filtered_reason, payload.post, name)
        if reason is None:
            return False
        await ledger.event(ReposterEvent.POST_FILTERED, reason=reason, earlier=True)
        return True

    async def keeps_out(
        self, ledger: Ledger, payload: DeliverPayload, name: str, post: Post
    ) -> bool:
        """Whether the source's filters keep ``post`` from destination ``name``: then the
        timeline says why, and the decision is written as the job completes."""
        catalog_key = payload.source.startswith((f"{SITE}:", f"{URL_SOURCE}:"))
        held = payload.source in self.routes.sources or payload.source in self.routes.paused
        if catalog_key and not held:
            # Another process (the web, the command line) may have added the source since this
            # one read the catalog: its filters are not to be missed.
            await ledger.ctx.db(self.routes.reload)
        filters = self.routes.filters_for(payload.source, name)
        reason = reason_to_skip(post, filters, ledger.now())
        if reason is None:
            return False
        await ledger.event(ReposterEvent.POST_FILTERED, reason=reason, source=payload.source)

        def record(conn: Connection) -> None:
            filtered_sql.record_filtered(
                conn,
                post_key=payload.post,
                destination=name,
                source=payload.source,
                reason=reason,
                job_id=ledger.job_id,
                now=ledger.now(),
            )

        ledger.on_complete(record)
        self.progress.filtered(payload.post, name, reason)
        return True
