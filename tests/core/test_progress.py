"""Progress bars: a log or a pipe gets one plain line every 10 % (at most ~11 lines for any number
of updates) ending with the 100 % line; a disabled bar writes nothing; a terminal gets tqdm."""

from __future__ import annotations

import io

import pytest

from interseg.progress import LogProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_every_ten_percent_and_a_final_one():
    stream = io.StringIO()
    with progress_bar(total=1000, desc="collect", file=stream) as bar:
        assert isinstance(bar, LogProgress)
        for _ in range(1000):
            bar.update()
    lines = stream.getvalue().splitlines()
    assert 10 <= len(lines) <= 11
    assert lines[0].startswith("collect: 100/1000 it (10%)")
    assert lines[-1].startswith("collect: 1000/1000 it (100%)")
    assert [line.split("(")[1].split(")")[0] for line in lines] == [f"{p}%" for p in range(10, 101, 10)]
    assert "\r" not in stream.getvalue()


@pytest.mark.parametrize("total, step", [(7, 1), (1000, 3), (1000, 250), (37, 5)])
def test_any_total_and_step_size_stays_within_eleven_lines(total, step):
    stream = io.StringIO()
    bar = progress_bar(total=total, desc="x", file=stream)
    done = 0
    while done < total:
        bar.update(min(step, total - done))
        done += min(step, total - done)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert 1 <= len(lines) <= 11
    assert "(100%)" in lines[-1] and f"{total}/{total}" in lines[-1]
    assert sum("(100%)" in line for line in lines) == 1  # the end is written once, by close()


def test_close_twice_writes_the_last_line_once():
    stream = io.StringIO()
    bar = progress_bar(total=10, file=stream)
    bar.update(10)
    bar.close()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("10/10 it (100%)")


def test_a_disabled_bar_writes_nothing_even_on_a_terminal():
    for stream in (io.StringIO(), Terminal()):
        with progress_bar(total=100, desc="quiet", disable=True, file=stream) as bar:
            for _ in range(100):
                bar.update()
            bar.set_postfix_str("loss 0.1")
        assert stream.getvalue() == ""


def test_postfix_and_description_appear_in_the_lines():
    stream = io.StringIO()
    with progress_bar(total=4, desc="train", file=stream, unit="batch") as bar:
        bar.set_postfix_str("loss 0.25")
        bar.update(2)
        bar.set_description("train v2")
        bar.update(2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("train: 2/4 batch (50%)") and lines[0].endswith("loss 0.25")
    assert lines[-1].startswith("train v2: 4/4 batch (100%)")


def test_an_unknown_total_logs_every_log_every_updates():
    stream = io.StringIO()
    with progress_bar(desc="frames", file=stream, log_every=100) as bar:
        for _ in range(450):
            bar.update()
    lines = stream.getvalue().splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        "frames: 100 it",
        "frames: 200 it",
        "frames: 300 it",
        "frames: 400 it",
        "frames: 450 it",
    ]


def test_log_every_percent_sets_the_step():
    stream = io.StringIO()
    with progress_bar(total=100, file=stream, log_every_percent=25) as bar:
        for _ in range(100):
            bar.update()
    assert len(stream.getvalue().splitlines()) == 4


def test_a_terminal_gets_a_live_tqdm_bar():
    tqdm = pytest.importorskip("tqdm").tqdm
    stream = Terminal()
    bar = progress_bar(total=10, desc="live", file=stream, log_every_percent=10)  # log-only options are dropped
    try:
        assert isinstance(bar, tqdm)
        bar.update(10)
    finally:
        bar.close()
    assert "live" in stream.getvalue() and "\r" in stream.getvalue()
