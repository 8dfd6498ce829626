"""The compare progress bar counts the whole job in epochs, so its time-left estimate holds."""

from reglab.report.console import RunProgress


def test_main_bar_counts_epochs_and_early_stopped_runs_count_as_done():
    p = RunProgress(total=4, already_done=1, epochs=10)
    with p:
        p.start("a")
        p.start("b")
        for e in range(3):
            p.epoch("a", e, 0.5, 1.0)
            p.epoch("b", e, 0.6, 1.0)
        main = p._progress.tasks[0]
        assert (main.completed, main.total) == (10 + 6, 40)  # 1 run resumed + 2 x 3 epochs
        p.epoch("a", 1, 0.5, 1.0)  # a repeated epoch message adds nothing
        assert p._progress.tasks[0].completed == 16
        p.finish("a", "done")  # stopped early after 3 epochs: its 7 left count as done
        assert p._progress.tasks[0].completed == 10 + 10 + 3
        assert p._progress.tasks[0].fields["note"] == "2/4 runs"
        p.finish("b", "diverged")
        assert p._progress.tasks[0].completed == 30
        assert [c.__class__.__name__ for c in p._progress.columns][-1] == "TimeRemainingColumn"
