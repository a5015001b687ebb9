# nbgrader configuration of the kit: the same settings the grader (python -m grader) uses.
# The course root is this folder: solutions/ is the source, notebooks/ the release.
from grader.config import course_config

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(course_config())
