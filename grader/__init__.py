"""The kit's autograder: nbgrader's bookkeeping, with per-submission processes on top."""
