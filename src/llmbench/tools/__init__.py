"""What an agent may call: the ``python`` tool, how it is offered to a model and run."""
