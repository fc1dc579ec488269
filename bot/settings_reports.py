"""The `reports` section of the configuration (随手拍 and its work-order cycle).

Kept apart from bot/settings.py (which re-exports both classes) so that module stays short.
Deadlines count working days in Asia/Shanghai (models/workdays.py): weekends and
`holidays` off, `workdays` (调休补班) on, a working day is `work_hours` long.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.workdays import DEFAULT_HOURS, Calendar, parse_hours


def _duration(value: Any) -> timedelta:
    from bot.settings import parse_duration  # bot.settings imports this module

    return parse_duration(value)


def _hours(value: Any) -> str:
    parse_hours(str(value))  # BadWorkHours is a ValueError: pydantic names the key
    return str(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
WorkHours = Annotated[str, BeforeValidator(_hours)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportCategory(_Section):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    # Whole days count working days (3d: the 3rd working day after the report, at closing
    # time); the rest of a day counts working hours (4h: four working hours).
    deadline: Duration = timedelta(days=3)


def _default_categories() -> list[ReportCategory]:
    names = ["道路交通", "市容环境", "公共设施", "安全隐患", "邻里纠纷", "其他"]
    return [ReportCategory(name=n) for n in names]


class ReportSettings(_Section):
    categories: list[ReportCategory] = Field(default_factory=_default_categories, min_length=1)
    photo_dir: str = "data/photos"  # where report photos are kept (WeChat's copy expires)
    digest_at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # Asia/Shanghai
    ack_hours: float = Field(4, gt=0, le=72)  # 签收 within this many working hours
    escalate_after_days: int = Field(2, ge=1, le=30)  # 督办: working days past the deadline
    holidays: list[date] = Field(default_factory=list)  # 法定节假日 (off)
    workdays: list[date] = Field(default_factory=list)  # 调休补班 (worked weekend days)
    work_hours: WorkHours = DEFAULT_HOURS  # a working day's hours, local time

    @model_validator(mode="after")
    def _days_apart(self) -> ReportSettings:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"{both[0]} is in both reports.holidays and reports.workdays")
        return self

    def calendar(self) -> Calendar:
        return Calendar.of(self.holidays, self.workdays, self.work_hours)

    def deadline_of(self, category: str) -> timedelta:
        """The category's deadline (the first category's for an unknown name)."""
        return next((c.deadline for c in self.categories if c.name == category),
                    self.categories[0].deadline)
