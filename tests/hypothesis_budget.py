"""How many examples a property test draws.

Normally each test draws the count it names. Mutation testing (``make mutation``) runs the tests
once per planted bug, thousands of times, so there ``TCONV_MAX_EXAMPLES`` caps the count, and
hypothesis draws the same examples on every run (no database, derandomized) so that a mutant's
verdict does not depend on luck.
"""
import os

from hypothesis import settings

_CAP = os.environ.get("TCONV_MAX_EXAMPLES")


def examples(count: int) -> settings:
    """Settings for a property test that draws ``count`` examples (no deadline: framework calls
    vary in time on a busy machine)."""
    if _CAP:
        return settings(max_examples=min(count, int(_CAP)), deadline=None, derandomize=True,
                        database=None)
    return settings(max_examples=count, deadline=None)
