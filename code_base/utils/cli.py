"""Command lines with one-line errors: ``prog: error: what is wrong``, exit code 2, no usage dump."""

import argparse

__all__ = ["ArgumentParser", "non_negative_int", "positive_int"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument gets one line naming it (``--help`` shows the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


non_negative_int = _int_at_least(0)
positive_int = _int_at_least(1)
