"""Interactive tests: a conversation in which the instructor plays the user.

The **agent** is the model under test. The **instructor** (an LLM, or ``scripted`` mode) writes
each user turn from the test's hidden reference (``instructions``, ``context``); the optional
**supervisor** (an LLM) reviews each instructor message against the reference before it is sent
and replaces one that departs from the steps or gives the answer away.

- :mod:`~llmbench.interactive.instructor`: the instructor's prompts, reply and scripted mode
- :mod:`~llmbench.interactive.supervisor`: the supervisor's prompts and reply
- :mod:`~llmbench.interactive.conversation`: the loop, :func:`run_conversation`
"""

from llmbench.interactive.conversation import (
    Conversation,
    ConversationSettings,
    Party,
    run_conversation,
)

__all__ = ["Conversation", "ConversationSettings", "Party", "run_conversation"]
