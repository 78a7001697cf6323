"""`grade-class`: grade a folder of hand-in zips (the instructor's side; not in the student release).

:mod:`.grade` runs the class, :mod:`.zipsafe` extracts a zip safely, :mod:`.run_student` and
:mod:`.in_sandbox` run a student's functions in limited processes, :mod:`.report` writes
grades.csv, the feedback and the table, :mod:`.synthetic` and :mod:`.mistakes` make a synthetic
class to try it on.
"""

from .grade import ClassGrades, grade_class
from .mistakes import MISTAKES
from .report import COLUMNS, Cell, StudentGrade, grades_table, problems_text
from .run_student import CodeRun
from .synthetic import make_class, report_pdf, write_project, zip_project
from .zipsafe import UnsafeArchiveError, ZipLimits

__all__ = ["ClassGrades", "grade_class", "COLUMNS", "Cell", "StudentGrade", "grades_table",
           "problems_text", "CodeRun", "ZipLimits", "UnsafeArchiveError", "MISTAKES",
           "make_class", "report_pdf", "write_project", "zip_project"]
