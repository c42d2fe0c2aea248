"""make bench-speed's bookkeeping: which side runs when, how savings are summed up, what is kept.

The figures themselves are not tested (they are measurements, ``make bench-speed`` takes them);
what is tested is that a pair compares what it says and that the decision follows the table.
"""

from __future__ import annotations

from sqslab.tools import benchspeed
from sqslab.tools.benchspeed import ALL, Comparison, Figure, Sample


def test_pairs_alternate_sides_part_by_part_and_leave_out_one_speed_up_each():
    ran: list[str] = []

    def part(label):
        def run(setting):
            ran.append(f"{label}:{setting}")
            return Sample(wall=1.0, cpu=2.0 if setting == "on" else 2.5)
        return run

    out = benchspeed.measure_pairs([ALL, "some_speed_up"], 2, [part("a"), part("b")])
    assert ran[:8] == ["a:on", "a:off", "b:off", "b:on",                       # pair 1 of everything on/off
                       "a:-some_speed_up", "a:on", "b:on", "b:-some_speed_up"]  # pair 1 of one left out
    assert ran[8:10] == ["a:off", "a:on"]  # pair 2 starts on the other side
    assert len(ran) == 16
    for comparison in out.values():
        assert [s.cpu for s in comparison.with_] == [4.0, 4.0]  # both parts summed per side
        assert [round(x, 9) for x in comparison.savings("cpu")] == [0.2, 0.2]


def test_with_repeats_each_side_counts_its_fastest_execution():
    times = iter([3.0, 5.0, 2.0, 6.0, 4.0, 4.5])  # with, without, with, without, ...
    rounds = []
    out = benchspeed.measure_pairs(["x"], 1, [lambda setting: Sample(1.0, next(times))], repeats=3,
                                   after_round=lambda comparisons: rounds.append(len(comparisons["x"].with_)))
    assert (out["x"].with_[0].cpu, out["x"].without[0].cpu) == (2.0, 4.5)
    assert rounds == [1]


def test_a_figure_is_the_median_of_the_pairs_with_their_range():
    comparison = Comparison([Sample(9, 9), Sample(9, 9), Sample(9.5, 9)], [Sample(10, 10)] * 3)
    figure = Figure.of(comparison)
    assert (round(figure.median, 3), round(figure.low, 3), round(figure.high, 3)) == (0.1, 0.1, 0.1)
    assert round(figure.wall, 3) == 0.1 and figure.pairs == 3
    assert str(figure) == "+10.0% (+10.0..+10.0)"


def test_a_speed_up_is_kept_when_one_workload_saves_enough():
    small, big = Figure(0.02, 0.0, 0.04, 0.02, 5), Figure(0.06, 0.03, 0.09, 0.05, 5)
    assert benchspeed.decide({"course": small, "grading": None, "exploration": big}, 0.05) == "keep"
    assert benchspeed.decide({"course": small, "grading": None, "exploration": small}, 0.05) == "delete"
    assert benchspeed.borderline({"course": small, "exploration": Figure(0.0, 0, 0, 0, 5)}, 0.05)
    assert not benchspeed.borderline({"course": big}, 0.05)
    assert not benchspeed.borderline({"course": Figure(0.005, 0, 0.01, 0, 5)}, 0.05)
    rows = benchspeed.table({ALL: {"course": big, "grading": None, "exploration": big},
                             "some_speed_up": {"course": small, "grading": None, "exploration": small}}, 0.05)
    assert [row[0] for row in rows[1:]] == [ALL, "some_speed_up"]
    assert rows[1][-1] == "(for the record)" and rows[2][-1] == "delete"
    assert rows[2][2] == "not measured"
