"""The one exception the course raises for bad input: a message that says what to do next."""


class SlmlabError(Exception):
    """A problem the learner can fix; the message names the fix.

    The CLI prints it as one line (no traceback) and exits with status 2.
    """
