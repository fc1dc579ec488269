"""What a course change tells its enrollees, in the words of bot/texts, handed to the
course rules (models know no wording of their own)."""

from __future__ import annotations

from bot import texts as T
from models.course import CourseTexts

COURSE_TEXTS = CourseTexts(moved=T.COURSE_MOVED, promoted=T.COURSE_PROMOTED,
                           where=T.COURSE_WHERE)
