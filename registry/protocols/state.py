"""Incremental episode state: fold events one by one and check each in O(1) amortised."""

from bisect import bisect_right
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from datetime import date

from registry.protocols.compiled import Clock, CompiledProtocol, Medication, MissedDose
from registry.protocols.model import Event, Violation

NEVER = 10**9
CHECK, APPLY_IF_OK, APPLY = 0, 1, 2
WEEK = 7
# Events that mean the patient came: the days with any of them count as days in treatment.
ATTENDED = frozenset({"dose", "visit", "screen", "review", "assessment", "take_home"})


class DoseTrack:
    """Daily totals of one medication, with a sliding minimum over the previous 6 days."""

    __slots__ = (
        "cap", "cap_day", "cap_for", "day", "floor", "gap", "prev", "start", "total", "window",
    )  # fmt: skip

    def __init__(self) -> None:
        self.start: int | None = None  # the first dosing day in the episode
        # (day, days missed, last dosing day before) of the latest first dose after a gap that
        # a missed-dose rule covers: the rest of that day is held to the same rule.
        self.gap: tuple[int, int, int] | None = None
        self.day: int | None = None  # the latest dosing day
        self.total = 0.0  # running total on that day
        self.prev: float | None = None  # total of the dosing day before it
        self.window: deque[tuple[int, float]] = deque()  # (day, total), totals increasing
        # The day's total that breaks no rule lies in [floor, cap]: fixed for a day and a
        # stage's limits, so checking the usual dose costs two comparisons.
        self.cap_day: int | None = None
        self.cap_for: Medication | None = None
        self.cap = self.floor = 0.0

    def set_cap(self, med: Medication, day: int) -> None:
        """Compute the range of totals on day that break none of med's limits."""
        cap, floor = float("inf"), 0.0
        if med.daily is not None:
            cap = med.daily.value
        if med.first_day is not None and self.start == day and med.first_day.value < cap:
            cap = med.first_day.value
        if med.per_day is not None:
            prev = self.previous_total(day)
            if prev is not None and prev + med.per_day.value < cap:
                cap = prev + med.per_day.value
        if med.per_week is not None:
            low = self.week_low(day)
            if low is not None and low + med.per_week.value < cap:
                cap = low + med.per_week.value
        if med.range is not None:
            floor, cap = med.range[0], min(cap, med.range[1])
        self.cap_day, self.cap_for, self.cap, self.floor = day, med, cap, floor

    def previous_total(self, day: int) -> float | None:
        """Return the total of the latest dosing day before day."""
        return self.prev if self.day == day else (self.total if self.day is not None else None)

    def week_low(self, day: int) -> float | None:
        """Return the lowest daily total over days day-6 .. day-1, or None without doses."""
        low_day = day - (WEEK - 1)
        best = None
        for d, total in self.window:  # the first entry still in the window is its minimum
            if d >= low_day:
                best = total
                break
        if self.day is not None and self.day != day and self.day >= low_day:
            best = self.total if best is None or self.total < best else best
        return best

    def add(self, day: int, amount: float) -> None:
        """Record a dose given on day (days never go backwards)."""
        if day == self.day:
            self.total += amount
            return
        if self.start is None:
            self.start = day
        if self.day is not None:
            window, total = self.window, self.total
            while window and window[-1][1] >= total:
                window.pop()  # a later, lower total outlives it in every window
            window.append((self.day, total))
            while window and window[0][0] < day - (WEEK - 1):
                window.popleft()
            self.prev = total
        self.day, self.total = day, amount


class EpisodeState:
    """The folded state of one episode; check() is pure, apply() checks then folds."""

    __slots__ = (
        "_deadlines",
        "_handlers",
        "_since",
        "admission",
        "alarm",
        "attended",
        "attended_last",
        "covered_until",
        "discharged",
        "last",
        "protocol",
        "stage",
        "stage_since",
        "take_homes",
        "tracks",
    )
    # Stored snapshots of another format are not restored (the episode is folded again).
    SNAPSHOT_FORMAT = 2

    def __init__(self, protocol: CompiledProtocol, admission: date, stage: str | None = None):
        self.protocol = protocol
        self.admission = admission.toordinal()
        stage = stage or protocol.initial_stage
        if stage not in protocol.stages:
            raise ValueError(f"protocol {protocol.key} has no stage {stage!r}")
        self.stage = protocol.stages[stage]
        self.stage_since = self.admission
        self.discharged = False
        self.last: dict[str, int] = {}
        self.tracks: dict[str, DoseTrack] = {}
        self.take_homes: deque[tuple[int, int]] = deque()
        # Days the patient attended (a dose, visit, screen, review, assessment or take-home):
        # take-home eligibility counts these, not calendar days (42 CFR 8.12(i)).
        self.attended = 0
        self.attended_last: int | None = None
        # The last day that take-home doses of the take-home medication cover.
        self.covered_until: int | None = None
        self._since = [self.admission if self._applies(c) else None for c in protocol.clocks]
        self._deadlines = [NEVER] * len(protocol.clocks)
        self._handlers = {
            "dose": self._dose,
            "take_home": self._take_home,
            "stage_change": self._stage_change,
            "discharge": self._discharge,
        }
        self.alarm = self._next_alarm(range(len(protocol.clocks)))

    def snapshot(self) -> dict:
        """Return the state as JSON-ready data; restore() rebuilds it under the same protocol.

        Stored on the episode, it lets a new event be checked without reading and folding the
        whole history again. Cached dose bounds are left out: they are recomputed on demand.
        """
        return {
            "format": self.SNAPSHOT_FORMAT,
            "admission": self.admission,
            "stage": self.stage.id,
            "stage_since": self.stage_since,
            "discharged": self.discharged,
            "last": dict(self.last),
            "tracks": {
                name: [
                    t.day,
                    t.total,
                    t.prev,
                    [list(pair) for pair in t.window],
                    t.start,
                    list(t.gap) if t.gap else None,
                ]
                for name, t in self.tracks.items()
            },
            "take_homes": [list(pair) for pair in self.take_homes],
            "since": list(self._since),
            "attended": [self.attended, self.attended_last],
            "covered_until": self.covered_until,
        }

    @classmethod
    def restore(cls, protocol: CompiledProtocol, data: dict) -> "EpisodeState":
        """Rebuild a state from snapshot() data taken under this protocol (and format)."""
        if data.get("format") != cls.SNAPSHOT_FORMAT:
            raise ValueError("a snapshot of another format")
        state = cls(protocol, date.fromordinal(data["admission"]), data["stage"])
        state.stage_since = data["stage_since"]
        state.discharged = data["discharged"]
        state.last = dict(data["last"])
        for name, (day, total, prev, window, start, gap) in data["tracks"].items():
            track = state.tracks[name] = DoseTrack()
            track.day, track.total, track.prev, track.start = day, total, prev, start
            track.gap = tuple(gap) if gap else None  # type: ignore[assignment]
            track.window = deque((d, t) for d, t in window)
        state.take_homes = deque((d, n) for d, n in data["take_homes"])
        state.attended, state.attended_last = data["attended"]
        state.covered_until = data["covered_until"]
        state._since = list(data["since"])
        state.alarm = state._next_alarm(range(len(protocol.clocks)))
        return state

    def fold(self, events: Iterable[Event]) -> "EpisodeState":
        """Apply recorded events without rejecting any (they may have been overridden)."""
        for event in events:
            if event.type == "dose" and event.day <= self.alarm and self._quick_dose(event):
                continue
            # Overdue notices would be thrown away here: skip composing their messages.
            self._run(event, APPLY, notices=False)
        return self

    def fold_checking(
        self, events: Sequence[Event], positions: Collection[int]
    ) -> dict[int, list[Violation]]:
        """Fold events as fold() does; return the own violations of those at `positions`.

        Each is judged against every event before it, as it would be if recorded now: this is
        how events recorded before a backdated one are checked again.
        """
        found: dict[int, list[Violation]] = {}
        for i, event in enumerate(events):
            quick = event.type == "dose" and event.day <= self.alarm and self._quick_dose(event)
            if not quick:
                out = self._run(event, APPLY, notices=False)
                if i in positions:
                    found[i] = out
            elif i in positions:
                found[i] = []
        return found

    def check(self, event: Event) -> list[Violation]:
        """Return the violations event would cause, without changing the state."""
        return self._run(event, CHECK)

    def apply(self, event: Event, force: bool = False) -> list[Violation]:
        """Check event and fold it in unless it breaks an error-level rule (or force is set)."""
        if event.type == "dose" and event.day <= self.alarm and self._quick_dose(event):
            return []
        return self._run(event, APPLY if force else APPLY_IF_OK)

    def _attend(self, day: int) -> None:
        if day != self.attended_last:
            self.attended += 1
            self.attended_last = day

    def _quick_dose(self, event: Event) -> bool:
        """Fold a dose that breaks no rule in few steps; return False to take the full path."""
        # This inlines DoseTrack.set_cap and DoseTrack.add on purpose: it is the path of nearly
        # every event. A property test checks that apply() agrees with check().
        payload = event.payload
        name = payload["medication"]
        track = self.tracks.get(name)
        med = self.stage.medications.get(name)
        if track is None or med is None or payload.get("unit") != med.unit:
            return False
        day, amount = event.day, payload["amount"]
        if track.day == day:
            total = track.total + amount
            if (
                track.cap_day == day
                and track.cap_for is med
                and track.floor <= total <= track.cap
                and not (track.gap and track.gap[0] == day)
            ):
                track.total = total
                return True
            return False
        # Days missed counted from the last dose alone are at least those counted with take-home
        # doses: below the shortest gap a missed-dose rule covers, no rule applies.
        after = self.protocol.missed_after.get(name)
        if after is not None and day - track.day > after and self._gap(name, track, day):  # type: ignore[operator]
            return False
        # A new dosing day: the previous day's total is final; compute the day's bounds.
        prev = track.total
        low_day = day - (WEEK - 1)
        window = track.window
        low = prev if track.day >= low_day else None  # type: ignore[operator]
        for d, total in window:  # the first entry still in the window is its minimum
            if d >= low_day:
                if low is None or total < low:
                    low = total
                break
        cap, step = med.cap, prev + med.step_day
        if step < cap:
            cap = step
        if low is not None:
            step = low + med.step_week
            if step < cap:
                cap = step
        track.cap_day, track.cap_for, track.cap, track.floor = day, med, cap, med.floor
        if not med.floor <= amount <= cap:
            return False
        while window and window[-1][1] >= prev:
            window.pop()
        window.append((track.day, prev))
        while window and window[0][0] < low_day:
            window.popleft()
        track.prev, track.day, track.total = prev, day, amount
        if day != self.attended_last:
            self.attended += 1
            self.attended_last = day
        return True

    def _run(self, event: Event, mode: int, notices: bool = True) -> list[Violation]:
        day = event.day
        # Overdue duties, as they stood before this event, are reported but never block it.
        overdue = self._overdue(day, event.type) if notices and day > self.alarm else []
        handler = self._handlers.get(event.type)
        out: list[Violation] = []
        if handler is not None:
            handler(event, day, mode, out)
        elif mode:
            self.last[event.type] = day
            if event.type in ATTENDED:
                self._attend(day)
            watching = self.protocol.clocks_by_event.get(event.type)
            if watching:
                self.alarm = self._next_alarm(watching)
        return overdue + out if overdue else out

    @staticmethod
    def _blocked(out: list[Violation], mode: int) -> bool:
        return mode == CHECK or (mode == APPLY_IF_OK and any(v.severity == "error" for v in out))

    def _gap(self, name: str, track: DoseTrack, day: int) -> tuple[MissedDose, int, int] | None:
        """Return the missed-dose rule a dose on day falls under, the days missed and the last
        dosing day before them; None when no rule covers the gap.
        """
        rules = self.protocol.missed.get(name)
        if not rules or track.day is None:
            return None
        if track.gap is not None and track.gap[0] == day:
            _, missed, last = track.gap
        elif track.day == day:
            return None
        else:
            last, covered = track.day, track.day
            take_home = self.protocol.take_home
            if take_home is not None and take_home.medication == name and self.covered_until:
                covered = max(covered, self.covered_until)
            missed = day - covered - 1
        for rule in rules:  # longest gap first
            if missed >= rule.after:
                return rule, missed, last
        return None

    def _dose(self, event: Event, day: int, mode: int, out: list[Violation]) -> None:
        payload = event.payload
        name, amount = payload["medication"], payload["amount"]
        med = self.stage.medications.get(name)
        track = self.tracks.get(name)
        gap = self._gap(name, track, day) if track is not None else None
        if (
            gap is None
            and track is not None
            and med is not None
            and payload.get("unit", med.unit) == med.unit
        ):
            if track.cap_day != day or track.cap_for is not med:
                track.set_cap(med, day)
            total = amount + track.total if track.day == day else amount
            if track.floor <= total <= track.cap:  # the usual case: nothing to report
                if mode:
                    track.add(day, amount)
                    self._attend(day)
                return
        if med is None:
            out.append(self.protocol.unlisted.violation(medication=name, stage=self.stage.id))
        else:
            if payload.get("unit", med.unit) != med.unit:
                out.append(med.rule.violation(unit=payload.get("unit")))
            self._dose_limits(med, track, day, amount, out)
        if gap is not None and track is not None:
            self._missed_limits(gap, track, day, amount, out)
        if not self._blocked(out, mode):
            if track is None:
                track = self.tracks[name] = DoseTrack()
            if gap is not None and track.day != day:
                track.gap = (day, gap[1], gap[2])
            track.add(day, amount)
            self._attend(day)

    def _missed_limits(
        self,
        gap: tuple[MissedDose, int, int],
        track: DoseTrack,
        day: int,
        amount: float,
        out: list[Violation],
    ) -> None:
        """Hold the first dosing day after missed doses to the rule that covers the gap.

        The day's total is capped by the rule (a share of the last dosing day's total, an
        amount, the induction stage's first-day and daily limits) on top of the stage's own
        limits, which still apply; a re-induction also caps the day's first dose; a review
        must have been recorded since the last dose when the rule asks for one.
        """
        rule, missed, last = gap
        first_of_day = track.day != day
        total = amount if first_of_day else track.total + amount
        limit = float("inf")
        first_dose = None
        if rule.reinduce is not None:
            induction = rule.reinduce
            first_dose = induction.first_dose.value if induction.first_dose else None
            for cap in (induction.first_day, induction.daily):
                if cap is not None and cap.value < limit:
                    limit = cap.value
        base = track.total if first_of_day else track.previous_total(day)
        if rule.share is not None and base is not None and base * rule.share < limit:
            limit = base * rule.share
        if rule.value is not None and rule.value < limit:
            limit = rule.value
        review = self.last.get("review")
        unreviewed = rule.review and (review is None or review <= last)
        too_much_at_once = first_of_day and first_dose is not None and amount > first_dose
        if total > limit or too_much_at_once or unreviewed:
            out.append(
                rule.rule.violation(
                    missed_days=missed,
                    value=amount if too_much_at_once and total <= limit else total,
                    limit=limit if limit != float("inf") else "—",
                    reviewed=not unreviewed,
                )
            )

    @staticmethod
    def _dose_limits(
        med: Medication, track: DoseTrack | None, day: int, amount: float, out: list[Violation]
    ) -> None:
        total = amount + track.total if track is not None and track.day == day else amount
        if med.first_dose is not None and track is None and amount > med.first_dose.value:
            out.append(med.first_dose.rule.violation(value=amount))
        first_day = track is None or track.start == day
        if med.first_day is not None and first_day and total > med.first_day.value:
            out.append(med.first_day.rule.violation(value=total))
        if med.daily is not None and total > med.daily.value:
            out.append(med.daily.rule.violation(value=total))
        if track is not None and med.per_day is not None:
            prev = track.previous_total(day)
            if prev is not None and total > prev + med.per_day.value:
                out.append(med.per_day.rule.violation(value=total - prev, total=total))
        if track is not None and med.per_week is not None:
            low = track.week_low(day)
            if low is not None and total > low + med.per_week.value:
                out.append(med.per_week.rule.violation(value=total - low, total=total))
        if med.range is not None and not med.range[0] <= total <= med.range[1]:
            out.append(med.range[2].violation(value=total))

    def _take_home(self, event: Event, day: int, mode: int, out: list[Violation]) -> None:
        rules = self.protocol.take_home
        doses = int(event.payload.get("doses", 1))
        if rules is None:
            medication = event.payload.get("medication", "")
            out.append(self.protocol.unlisted.violation(stage=self.stage.id, medication=medication))
            return
        # Days attended, this one included: a gap in treatment earns no take-home doses.
        in_treatment = self.attended + (0 if self.attended_last == day else 1)
        index = bisect_right(rules.starts, in_treatment) - 1
        band = rules.bands[index] if index >= 0 else None
        allowed_stage = rules.stages is None or self.stage.id in rules.stages
        medication = event.payload.get("medication", rules.medication)
        outside = band is None or in_treatment > band.end
        calendar = day - self.admission + 1
        if outside or not allowed_stage or medication != rules.medication:
            out.append(
                rules.rule.violation(
                    day_in_treatment=in_treatment, calendar_day=calendar, stage=self.stage.id
                )
            )
        else:
            start = day - band.per_days + 1
            given = sum(n for d, n in self.take_homes if d >= start)
            if given + doses > band.max_doses:
                out.append(band.rule.violation(value=given + doses, day_in_treatment=in_treatment))
        if not self._blocked(out, mode):
            self.take_homes.append((day, doses))
            while self.take_homes[0][0] <= day - rules.window:
                self.take_homes.popleft()
            self.covered_until = max(self.covered_until or day, day + doses)
            self._attend(day)

    def _stage_change(self, event: Event, day: int, mode: int, out: list[Violation]) -> None:
        target = event.payload.get("to")
        stage = self.stage
        if target not in stage.to or target not in self.protocol.stages:
            out.append(stage.transition.violation(to=target))
        days = day - self.stage_since
        if stage.min_days is not None and days < stage.min_days and stage.duration:
            out.append(stage.duration.violation(stage=stage.id, days=days))
        if self._blocked(out, mode) or target not in self.protocol.stages:
            return
        self.stage = self.protocol.stages[target]
        self.stage_since = day
        for i, clock in enumerate(self.protocol.clocks):
            applies = self._applies(clock)
            if not applies:
                self._since[i] = None
            elif self._since[i] is None:
                self._since[i] = day
        self.alarm = self._next_alarm(range(len(self.protocol.clocks)))

    def _discharge(self, event: Event, day: int, mode: int, out: list[Violation]) -> None:
        protocol, reason = self.protocol, event.payload.get("reason")
        if reason not in protocol.reasons:
            out.append(protocol.discharge.violation(reason=reason))
        if protocol.exit_rule is not None and reason not in protocol.exit_exempt:
            last = self.last.get("assessment")
            if last is None or day - last > protocol.exit_within:
                out.append(protocol.exit_rule.violation(reason=reason))
        if not self._blocked(out, mode):
            self.discharged = True
            self.alarm = NEVER

    def _applies(self, clock: Clock) -> bool:
        return clock.stages is None or self.stage.id in clock.stages

    def due(self, index: int) -> int | None:
        """Return the day by which clock index is next due, or None when not due at all."""
        since = self._since[index]
        if since is None or self.discharged:
            return None
        clock = self.protocol.clocks[index]
        last = self.last.get(clock.event)
        if clock.interval is None:  # once per episode
            return None if last is not None else since + clock.first_due
        if last is not None and last >= since:
            return last + clock.interval
        return since + clock.first_due

    def stage_due(self) -> int | None:
        """Return the last day the current stage may last, or None without a maximum."""
        if self.discharged or self.stage.max_days is None:
            return None
        return self.stage_since + self.stage.max_days

    def _next_alarm(self, changed: Iterable[int]) -> int:
        """Refresh the deadlines of the changed clocks; return the first day something is late."""
        clocks, deadlines = self.protocol.clocks, self._deadlines
        for i in changed:
            due = self.due(i)
            deadlines[i] = NEVER if due is None else due + clocks[i].grace
        alarm = min(deadlines, default=NEVER)
        stage_due = self.stage_due()
        return alarm if stage_due is None or stage_due > alarm else stage_due

    def _overdue(self, day: int, event_type: str) -> list[Violation]:
        """Return the duties overdue on day (details carry overdue=True: they never block)."""
        out = []
        for i, clock in enumerate(self.protocol.clocks):
            due = self.due(i)
            if due is not None and day > due + clock.grace and clock.event != event_type:
                until = date.fromordinal(due + clock.grace)
                due_date = date.fromordinal(due)
                out.append(clock.rule.violation(due=due_date, grace_until=until, overdue=True))
        stage_due = self.stage_due()
        ends_stage = event_type in ("stage_change", "discharge")
        if stage_due is not None and day > stage_due and not ends_stage:
            duration = self.stage.duration
            if duration is not None:
                days = day - self.stage_since
                out.append(duration.violation(stage=self.stage.id, days=days, overdue=True))
        return out
