"""The event bus: what changed, published after the change is committed (reva `pkg/events`).

`Event` is one change under oCIS's event name; `EventBus` is the interface a broker offers
(publish; consume with a consumer group; ack); `InProcessBus` is the default, in this process.
"""

from .actor import ACTOR, acting
from .bus import Consumer, Delivery, EventBus, InProcessBus
from .event import Access, Event

__all__ = ["ACTOR", "Access", "Consumer", "Delivery", "Event", "EventBus", "InProcessBus", "acting"]
