"""`grade-class`: grade a folder of hand-in zips (the instructor's side; not in the student release).

:mod:`.run_class` runs the class, :mod:`.grade` grades one hand-in, :mod:`.zipsafe` extracts a
zip safely, :mod:`.run_student`, :mod:`.sandbox` and :mod:`.in_sandbox` run a student's functions,
one bubblewrap sandbox per call, on :mod:`.fresh` inputs; :mod:`.report` and :mod:`.gradebook`
write grades.csv (row by row), the feedback and the table, :mod:`.synthetic` and :mod:`.mistakes` make a synthetic
class to try it on.
"""

from .run_class import ClassGrades, Interrupted, grade_class
from .mistakes import MISTAKES
from .report import COLUMNS, Cell, StudentGrade, grades_table, problems_text
from .run_student import CodeRun
from .synthetic import make_class, report_pdf, write_project, zip_project
from .zipsafe import UnsafeArchiveError, ZipLimits

__all__ = ["ClassGrades", "Interrupted", "grade_class", "COLUMNS", "Cell", "StudentGrade", "grades_table",
           "problems_text", "CodeRun", "ZipLimits", "UnsafeArchiveError", "MISTAKES",
           "make_class", "report_pdf", "write_project", "zip_project"]
