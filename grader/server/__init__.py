"""The course server (`grade serve`): the same store and rules as the CLI, over HTTP for remote students."""
