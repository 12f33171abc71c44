"""Benchmark the rule engine: a year of methadone events for many episodes, event by event.

Prints events checked per second through EpisodeState.apply (as the episodes service would
call it, one event at a time) and the ratio to a plain loop that only iterates over the same
events (the floor).
"""

import argparse
import random
import time
from datetime import date, timedelta

from registry.protocols import EpisodeState, Event, compile_protocol
from registry.protocols.shipped import shipped_documents

BATCH = 250


def episode_events(rng: random.Random, admission: date) -> list[Event]:
    """Return a year of doses (a few wrong), screens, reviews, assessments, stage changes."""
    target = rng.randrange(60, 121, 5)
    dose, events, payloads = 30, [], {}
    for offset in range(365):
        day = admission + timedelta(days=offset)
        if offset % 7 == 0:
            events.append(Event("screen", day))
        if offset % 30 == 0:
            events.append(Event("review", day))
        if offset % 90 == 0:
            events.append(Event("assessment", day))
        if offset == 14:
            events.append(Event("stage_change", day, {"to": "stabilisation"}))
        if offset == 75:
            events.append(Event("stage_change", day, {"to": "maintenance"}))
        if offset and offset % 4 == 0 and dose < target:
            dose += 5
        chance = rng.random()
        if chance < 0.02:
            continue  # a missed dose
        amount = dose + 25 if chance > 0.995 else dose  # a dosing error the engine must catch
        payload = payloads.get(amount)
        if payload is None:
            payload = payloads[amount] = {"medication": "methadone", "amount": amount, "unit": "mg"}
        events.append(Event("dose", day, payload))
    return events


def run_engine(protocol, batch: list[tuple[date, list[Event]]]) -> tuple[float, int, int]:
    """Evaluate and fold every event; return (seconds, events, events with violations)."""
    flagged = 0
    count = 0
    start = time.perf_counter()
    for admission, events in batch:
        apply = EpisodeState(protocol, admission).apply
        for event in events:
            if apply(event):
                flagged += 1
        count += len(events)
    return time.perf_counter() - start, count, flagged


def run_floor(batch: list[tuple[date, list[Event]]]) -> float:
    """Iterate over the same events doing nothing else; return seconds."""
    count = 0
    start = time.perf_counter()
    for _, events in batch:
        for _event in events:
            count += 1
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    protocol = compile_protocol(shipped_documents()["methadone_oat"])
    rng = random.Random(args.seed)
    engine_s = floor_s = 0.0
    events = flagged = 0
    for first in range(0, args.episodes, BATCH):
        size = min(BATCH, args.episodes - first)
        admissions = [date(2025, 1, 1) + timedelta(days=rng.randrange(365)) for _ in range(size)]
        batch = [(a, episode_events(rng, a)) for a in admissions]
        seconds, count, hits = run_engine(protocol, batch)
        engine_s, events, flagged = engine_s + seconds, events + count, flagged + hits
        floor_s += run_floor(batch)
    engine_rate, floor_rate = events / engine_s, events / floor_s
    print(f"episodes            {args.episodes}")
    print(f"events              {events}")
    print(f"events flagged      {flagged}")
    print(f"engine              {engine_rate:,.0f} events/s ({engine_s:.2f} s)")
    print(f"floor (plain loop)  {floor_rate:,.0f} events/s ({floor_s:.3f} s)")
    print(f"ratio engine/floor  {engine_rate / floor_rate:.3f}")


if __name__ == "__main__":
    main()
