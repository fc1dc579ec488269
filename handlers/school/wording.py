"""What a course change tells its enrollees, in the words of bot/texts.py, handed to the
course rules (models know no wording of their own)."""

from __future__ import annotations

from bot import texts as T
from models.course import CourseTexts

COURSE_TEXTS = CourseTexts(moved=T.COURSE_MOVED, promoted=T.COURSE_PROMOTED,
                           where=T.COURSE_WHERE)

# 报名 by a course's title, or with nothing after it (chat.py). Here, beside the course
# wording, as bot/texts.py is at its size limit.
ENROL_OPEN = "近14天可报名的课程，发送其中一行报名（也可写课程名，如「报名 {title}」）："
ENROL_PICK = "有{n}门可报名的课程对得上「{text}」，请发送其中一行报名："
ENROL_PICK_LINE = "「报名 {code}」{what}{mine}"
ENROL_MORE = "……还有{n}门，发送「课程」查看全部。"
ENROL_NO_MATCH = (
    "没有可报名的课程对得上「{text}」。发送「课程」查看可报名的课程，再发送「报名 课程码」。")
