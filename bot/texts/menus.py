"""What `run.py menu` prints: the default menu and the staff roles' conditional menus."""

from __future__ import annotations

MENU_INVALID = "菜单不符合微信的规则：\n{problems}"
MENU_PUSH_FAILED = "推送菜单失败：{error}"
MENU_OLD_CONDITIONAL = "已删除旧的个性化菜单 {n} 个（menuid {ids}）。"
MENU_DEFAULT_PUSHED = "菜单已推送（{top} 个一级菜单，{n} 个按钮）；微信客户端约5分钟内刷新。"
MENU_CONDITIONAL_PUSHED = ("{role}菜单已推送（标签「{tag}」，tag_id {tag_id}，menuid {menuid}；"
                           "{top} 个一级菜单，{n} 个按钮）。")
MENU_NO_CONDITIONAL = "未配置个性化菜单（menu.conditional）：所有人看到默认菜单。"
