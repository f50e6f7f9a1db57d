"""Who buys in the demo, when, and through whom: a few stores and guides far ahead of the
rest, guides who share many times for each sale (share rates between 3% and 30%), most
sales through guides' shares, a fifth delivered to another city than the store's, about a
fifth paid after the stores close, and one evening of live streams with a peak.

The figures aim near those the brands publish: about 75% of sales through guides'
shares, links, QR codes and live streams, 19% cross-city, and 20% after the stores'
closing time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from guideledger.attribution.domain.rules import Channel
from guideledger.engagement.domain import ShareKind

OPENS, CLOSES = time(10), time(22)
# Orders per local hour of the day: busy evenings, a tail after closing and before opening.
HOUR_WEIGHTS = (2, 2, 1, 1, 1, 1, 1, 2, 2, 3, 6, 7, 8, 7, 6, 6, 6, 7, 8, 9, 10, 10, 6, 3)
# link, QR code, live stream, store account, direct: with the live evening's orders, about
# 75% through guides' shares
CHANNEL_WEIGHTS = {
    Channel.GUIDE_SHARE_LINK: 38,
    Channel.GUIDE_QR: 20,
    Channel.LIVE_STREAM_FORWARD: 15,
    Channel.STORE_ACCOUNT: 12,
    Channel.DIRECT: 15,
}
SHARE_KINDS = {
    Channel.GUIDE_SHARE_LINK: ShareKind.PRODUCT_LINK,
    Channel.GUIDE_QR: ShareKind.QR_CODE,
    Channel.LIVE_STREAM_FORWARD: ShareKind.LIVE_STREAM,
}
CROSS_CITY = 0.19  # of orders, delivered to another city than their store's
LIVE_SHARE_OF_ORDERS = 0.08  # of all orders, on the live-stream evening
STREAMERS = 3
MAX_IDLE_SHARES = 40


@dataclass
class Demand:
    rng: random.Random
    guides: list[tuple[UUID, UUID]]  # (guide, store)
    weights: list[float]
    share_rates: dict[UUID, float]
    streamers: list[tuple[UUID, UUID]]
    live_day: int
    live_codes: dict[UUID, str] = field(default_factory=dict)  # a streamer's live stream
    cross_city: float = CROSS_CITY

    @classmethod
    def of(
        cls, rng: random.Random, guides: list[tuple[UUID, UUID]], stores: list[UUID], days: int
    ) -> Demand:
        """Stores' and guides' pull follows a Pareto law: a few far ahead of the rest."""
        store_pull = {store: rng.paretovariate(1.1) for store in stores}
        weights = [store_pull[store] * rng.paretovariate(1.4) for _guide, store in guides]
        ranked = sorted(range(len(guides)), key=lambda n: -weights[n])
        return cls(
            rng,
            guides,
            weights,
            {guide: rng.uniform(0.03, 0.30) for guide, _store in guides},
            [guides[n] for n in ranked[:STREAMERS]],
            live_day=max(days - 5, 0),
        )

    def instants(self, start: datetime, days: int, orders: int, time_zone: str) -> list[datetime]:
        """When each order is placed, in order: on a day chance picks, at an hour that
        follows `HOUR_WEIGHTS` in the brand's time zone; some on the live evening."""
        zone, rng = ZoneInfo(time_zone), self.rng
        first = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=days, seconds=-1)
        moments = []
        for _ in range(orders):
            live = rng.random() < LIVE_SHARE_OF_ORDERS
            day = self.live_day if live else rng.randrange(days)
            hour = rng.uniform(20, 22) if live else _hour(rng)
            local = first + timedelta(days=day, hours=hour)
            moments.append(min(max(local.astimezone(start.tzinfo), start), end))
        return sorted(moments)

    def is_live(self, moment: datetime, start: datetime, time_zone: str) -> bool:
        zone = ZoneInfo(time_zone)
        day = (moment.astimezone(zone).date() - start.astimezone(zone).date()).days
        return day == self.live_day and moment.astimezone(zone).hour >= 20

    def buyer_of(self, live: bool) -> tuple[tuple[UUID, UUID], Channel]:
        """The guide (and store) a sale goes through, and the channel."""
        if live:
            return self.rng.choice(self.streamers), Channel.LIVE_STREAM_FORWARD
        guide = self.rng.choices(self.guides, weights=self.weights, k=1)[0]
        channels = list(CHANNEL_WEIGHTS)
        return guide, self.rng.choices(channels, weights=list(CHANNEL_WEIGHTS.values()), k=1)[0]

    def idle_shares(self, guide_id: UUID) -> int:
        """How many shares bring nothing for each that sells: about 1 / rate - 1."""
        rate = self.share_rates[guide_id]
        expected = 1 / rate - 1
        return min(MAX_IDLE_SHARES, round(self.rng.uniform(0.5, 1.5) * expected))


def _hour(rng: random.Random) -> float:
    return rng.choices(range(24), weights=HOUR_WEIGHTS, k=1)[0] + rng.random()
