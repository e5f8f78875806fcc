"""The `i2dl` command (the console script and `python -m i2dl`): the cycle collector set, then the CLI."""

import gc

#: The collector's first threshold for a command (Python's default is 700). A command's start-up makes
#: some 10^5 objects that live until it exits (modules, classes, schemas, compiled specs); at 700 the
#: collector walks them again and again (46-51 ms of a 450 ms `solve`). Cycles are still
#: collected, every GC_THRESHOLD net allocations: a few MB of garbage at most.
GC_THRESHOLD = 100_000


def main() -> None:
    """Run one i2dl command."""
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    from i2dl.cli import main as cli_main  # imported after: importing the CLI is start-up too

    cli_main()


if __name__ == "__main__":  # guarded: worker processes started by spawn import this module
    main()
