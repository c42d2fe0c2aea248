"""nbgrader configuration for `make release` (tools/release.py).

Maps nbgrader's own folder names onto this repository's: the instructor's source is solutions/
(solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``) and the release is course/, so that
``course/<assignment>/<assignment>.ipynb`` is what nbgrader generates. No gradebook is involved in a
release (tools/release.py passes ``--no-db``). Grading has its own configuration in autograder/.

tools/release.py copies this file next to a scratch copy of solutions/ and runs nbgrader there, so
``make release`` and the staleness test in tests/course/test_notebooks.py read exactly these settings.
"""

c = get_config()  # noqa: F821 - injected by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "sqs-reliability-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
# Never ship editor debris or a gradebook with the learner's copy.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "gradebook*.db",
    ".DS_Store",
]

# What a learner sees where a solution was cut out: a pointer to the exercise, not a bare
# NotImplementedError, so the traceback tells them which cell to work on.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError(\"Write your solution here, then run the checks below.\")",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
