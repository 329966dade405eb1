"""One set of town settings for every town folder of a PostgreSQL town.

Each host that runs `gt up` has a town folder of its own, with its own `town.toml` and
`secrets.toml`; the town's settings are one. The ledger keeps the town layer with the time it
was changed (`store.hosts.publish_town`), and every town process, leading or standing by,
settles the two every few seconds, the later change winning: a folder whose files changed
after the ledger's copy (`gt config set` there, or an edit by hand) publishes them; a folder
whose files are older than the ledger's copy takes it, which the process's live settings then
read. So a standby that comes to lead leads with the town's settings, not the ones it joined
with. Hosts' clocks are assumed to agree within the few seconds a change takes to spread.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from gastown.clock import stamp
from gastown.services.ledger import Ledger
from gastown.store import hosts
from gastown.town import SECRETS_FILE, TOWN_FILE, Town, load

log = logging.getLogger("gastown.town")


def changed_at(town: Town) -> str:
    """When the folder's settings files last changed."""
    times = [
        (town.path / name).stat().st_mtime
        for name in (TOWN_FILE, SECRETS_FILE)
        if (town.path / name).exists()
    ]
    return stamp(datetime.fromtimestamp(max(times, default=0.0), UTC))


def settle(ledger: Ledger, town: Town) -> str:
    """Publish this folder's settings or take the ledger's, whichever changed last; what was
    done: `published`, `taken` or `` (they agreed)."""
    local = dict(town.settings)
    with ledger.store.transaction() as tx:
        kept = hosts.town_record(tx)
        kept_at = hosts.layer_at(tx)
        if kept is not None and kept[2] == local:
            return ""
        mine = changed_at(town)
        if kept is None or kept_at is None or mine > kept_at:
            hosts.publish_town(tx, town.name, town.prefix, local, mine)
            return "published"
    taken = load(town.path)
    taken.settings = dict(kept[2])
    taken.write()  # the live settings of this process follow the files
    log.warning("took the town's settings as changed on another host at %s", kept_at)
    return "taken"
