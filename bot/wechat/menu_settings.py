"""The `menu` section of config.yaml: the default menu every follower sees, a conditional
(personalised) menu per staff role, and the WeChat user tag that carries each role.

    menu:
      button: [...]                 # the default menu (riders)
      tags: {officer: 网格员, ...}   # the user tag per role (defaults below)
      conditional:                  # per role, the same shape as the default menu
        officer: {button: [...]}

A staff member's WeChat account gets their role's tag when they 绑定 (models/staff_tags.py
records it, handlers/staff/jobs.py applies it); `run.py menu` pushes the default menu and
then one conditional menu per role with matchrule {tag_id}. The menus are checked against
WeChat's rules by bot/wechat/menu.py. Kept apart from bot/settings.py, which imports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["admin", "instructor", "leader", "officer"]
# WeChat: a tag name is at most 30 bytes (45158) and unique (45157).
TAG_NAME_MAX_BYTES = 30
DEFAULT_TAGS: dict[Role, str] = {
    "admin": "管理员", "instructor": "讲师", "leader": "党小组长", "officer": "网格员"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MenuButton(_Section):
    name: str = Field(min_length=1)
    type: str | None = None
    key: str | None = None
    url: str | None = None
    sub_button: list[MenuButton] = Field(default_factory=list)


class ConditionalMenu(_Section):
    """One role's menu: the same shape as the default one."""

    button: list[MenuButton] = Field(default_factory=list)


class MenuSettings(_Section):
    button: list[MenuButton] = Field(default_factory=list)
    tags: dict[Role, str] = Field(default_factory=lambda: dict(DEFAULT_TAGS))
    conditional: dict[Role, ConditionalMenu] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[Role, str]) -> dict[Role, str]:
        merged = {**DEFAULT_TAGS, **tags}  # a role left out keeps its default tag
        for role, name in merged.items():
            if not name.strip() or len(name.encode()) > TAG_NAME_MAX_BYTES:
                raise ValueError(f"{role}: 标签名须为1到{TAG_NAME_MAX_BYTES}字节（「{name}」）")
        if len(set(merged.values())) != len(merged):
            raise ValueError("每个角色的标签名须各不相同")
        return merged

    def tag_of(self, role: str) -> str | None:
        return next((name for r, name in self.tags.items() if r == role), None)
