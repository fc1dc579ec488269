"""The console's words for what is stored as codes: audiences, who made a thing (sources),
QR scenes, and its error pages. Pages pass in the names they looked up (models/names.py);
a code whose name cannot be found is said in words too, never shown raw."""

from __future__ import annotations

from collections.abc import Mapping

# --- error pages (bot/web/pages.py error_page) ------------------------------------------------

ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "提交的内容不正确。请返回上一页，检查后重试。"),
    403: ("没有权限", "您的账号不能进行这个操作。如需要，请联系管理员。"),
    404: ("没有这个页面", "页面不存在，或您的账号无权查看。请检查链接，或从菜单重新进入。"),
    405: ("不支持这个操作", "这个页面不接受这种请求。请从页面上的按钮或链接进入。"),
    408: ("请求超时", "请求没有及时送达。请检查网络后重试。"),
    413: ("内容过大", "提交的内容或文件太大。请减小后重试。"),
    429: ("操作太频繁", "请求太多了，请稍等片刻再试。"),
    500: ("系统出错了", "处理这个请求时出了问题，已记录下来。"
                        "请稍后再试；如果一直出错，请联系管理员。"),
    502: ("上游服务不可用", "依赖的服务暂时不可用，请稍后再试。"),
    503: ("暂时无法服务", "系统正忙或正在维护，请稍后再试。"),
}
ERROR_OTHER = ("出错了", "请求未能完成，请稍后再试。")
# /api/v1 answers a path or method it does not have in JSON, like its other errors
API_NOT_FOUND = "no such API route (没有这个接口)"
API_NOT_ALLOWED = "method {method} not allowed here (这个接口不接受这种请求)"

# --- audiences ("all", "industry:NAME", "group:CODE", "course:CODE", "member:OPENID[,…]") ---

AUDIENCE_ALL = "全体成员"
AUDIENCE_INDUSTRY = "行业：{name}"
AUDIENCE_GROUP = "小组：{name}"
AUDIENCE_GROUP_GONE = "小组：（已删除的小组）"
AUDIENCE_COURSE = "课程：{name}（报名学员）"
AUDIENCE_COURSE_GONE = "课程：（已删除的课程）"
AUDIENCE_MEMBER = "单个成员 {name}"
AUDIENCE_MEMBERS = "{n} 位指定成员：{names}"
AUDIENCE_MEMBER_GONE = "已注销的成员"
AUDIENCE_ERASED = "已注销的成员"
AUDIENCE_OTHER = "其他受众"
# The notice form's choices (handlers/notices/console.py)
AUDIENCE_MY_GROUP = "我的小组：{name}"
AUDIENCE_COURSE_OPTION = "课程：{name}（{day}开课，报名学员）"
AUDIENCE_PICK_MEMBER = "单个成员（按姓名选择）"
AUDIENCE_CHOOSE = "请选择发送对象"
AUDIENCE_CHOOSE_MEMBER = "请在下面选择一位成员"
AUDIENCE_MEMBER_UNKNOWN = "没有找到这位成员（可能已注销），请重新选择"
AUDIENCE_NOT_ALLOWED = "无权向该受众发送"
MEMBER_OPTION = "{name} {phone}"
MEMBER_NONE_FOUND = "没有找到姓名或手机尾号为「{q}」的已登记成员"


def audience_words(audience: str | None, names: Mapping[str, str]) -> str:
    """An audience as people read it; `names` from models.names.audience_names."""
    kind, _, arg = (audience or "").strip().partition(":")
    arg = arg.strip()
    if kind == "all" and not arg:
        return AUDIENCE_ALL
    if kind == "industry" and arg:
        return AUDIENCE_INDUSTRY.format(name=arg)
    if kind == "group" and arg:
        name = names.get(f"group:{arg.upper()}")
        return AUDIENCE_GROUP.format(name=name) if name else AUDIENCE_GROUP_GONE
    if kind == "course" and arg:
        name = names.get(f"course:{arg.upper()}")
        return AUDIENCE_COURSE.format(name=name) if name else AUDIENCE_COURSE_GONE
    if kind == "member" and arg:
        ids = [o.strip() for o in arg.split(",") if o.strip()]
        found = [names.get(f"member:{o}", AUDIENCE_MEMBER_GONE) for o in ids]
        if len(found) == 1:
            return AUDIENCE_MEMBER.format(name=found[0])
        shown = "、".join(found[:3]) + ("等" if len(found) > 3 else "")
        return AUDIENCE_MEMBERS.format(n=len(found), names=shown)
    if kind == "erased":
        return AUDIENCE_ERASED
    return AUDIENCE_OTHER


# --- who made it (Notice.created_by, Course.created_by, a report event's actor) -------------

SOURCE_CONSOLE = "控制台 · {name}"
SOURCE_LEADER = "微信 · 小组长 {name}"
SOURCES = {"api": "数据接口", "cli": "命令行", "import": "文件导入", "system": "系统"}
SOURCE_OTHER = "其他来源"
SOURCE_NONE = "—"


def source_words(source: str | None, names: Mapping[str, str]) -> str:
    """Where a thing came from; `names` maps console logins to display names
    (models.names.staff_names), a login without one is shown as it is."""
    if not source:
        return SOURCE_NONE
    kind, _, login = source.partition(":")
    if kind == "console" and login:
        return SOURCE_CONSOLE.format(name=names.get(login, login))
    if kind == "leader" and login:
        return SOURCE_LEADER.format(name=names.get(login, login))
    return SOURCES.get(kind, SOURCE_OTHER)


# --- QR scenes (st:CODE, grp:CODE, crs:CODE, act:ID) ---------------------------------------------

SCENES = {"st": "驿站签到码", "grp": "小组入组码", "crs": "课程签到码", "act": "活动签到码"}
SCENE_OTHER = "二维码"


def scene_words(scene: str, name: str | None = None) -> str:
    """A QR code's scene as people read it: 驿站签到码 湖塘红色驿站 …"""
    kind, _, _ = scene.partition(":")
    label = SCENES.get(kind, SCENE_OTHER)
    return f"{label} {name}" if name else label


# --- why a push failed (the outbox's reason: ours in Chinese, or WeChat's "errcode errmsg") ----

WECHAT_ERRORS = {
    "40001": "微信接口凭证失效", "40003": "用户标识无效", "40037": "模板编号无效",
    "43004": "用户未关注服务号", "43101": "用户未授权订阅消息",
    "45009": "接口当日调用量用完", "45011": "接口调用太频繁",
    "45015": "已超出48小时客服消息窗口", "45047": "客服消息条数已达上限",
    "47003": "模板内容不符合要求",
}
WECHAT_ERROR_OTHER = "微信接口返回错误"


def push_reason_words(reason: str) -> str:
    """A delivery's failure reason in words: WeChat's errcode said in Chinese (the code kept
    in brackets for whoever asks WeChat about it)."""
    code, _, _ = reason.partition(" ")
    if code.lstrip("-").isdigit():
        return f"{WECHAT_ERRORS.get(code, WECHAT_ERROR_OTHER)}（{code}）"
    return reason
