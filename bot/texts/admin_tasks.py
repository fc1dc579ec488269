"""The admins' tool pages of the console (accounts, grids, member import, menu, QR codes)
and the command lines that do the same: a rule broken, and WeChat's answers, in words."""

from __future__ import annotations

# --- console accounts (models/staff.py reason codes; run.py create-user / edit-user) ----------

STAFF_ERRORS = {
    "unknown_role": "角色必须是 admin、instructor、leader 或 officer",
    "bad_username": "用户名不能为空、不能有空格、最长64个字符",
    "short_password": "密码至少8位",
    "username_taken": "用户名已存在",
    "long_display_name": "姓名最长40个字",
}
STAFF_FORM_ERRORS = {  # the console form's own checks, beside the rules above
    "password_mismatch": "两次输入的密码不一致",
    "no_grid": "没有这个网格，请从列表中选择",
    "no_group": "没有这个小组，请从列表中选择",
    "no_role": "请选择角色",
}
BIND_CODE_SHOWN = ("用本人微信向公众号发送「绑定 {code}」，"
                   "或用微信扫下面的二维码后发送识别出的文字。")


def staff_error_text(reason: str) -> str:
    return STAFF_ERRORS.get(reason) or STAFF_FORM_ERRORS.get(reason, reason)


# --- WeChat's answers to a menu push (errcode → what went wrong) ------------------------------

WECHAT_API_ERRORS = {
    -1: "微信系统繁忙，请稍后再试",
    -2: "连不上微信接口（网络中断或对方出错），请稍后再试",
    40001: "接口凭证无效（检查 AppSecret，或稍后再试）",
    40013: "AppID 无效",
    40016: "按钮个数不符合要求",
    40017: "按钮类型不符合要求",
    40018: "按钮名称太长",
    40019: "按钮 key 太长",
    40023: "子菜单按钮个数不符合要求",
    40054: "子菜单按钮网址无效",
    40055: "按钮网址无效",
    40125: "AppSecret 无效",
    40164: "服务器的 IP 不在公众号的白名单中",
    45009: "接口今天的调用次数已用完",
    45011: "接口调用太频繁，请稍后再试",
    45056: "用户标签数量已达上限",
    45157: "标签名称重复",
    45158: "标签名称太长",
    48001: "公众号没有这个接口的权限（未认证或未开通）",
    65301: "没有这个个性化菜单",
    65303: "还没有默认菜单，不能创建个性化菜单",
    65304: "个性化菜单的匹配规则为空",
    65305: "个性化菜单数量已达上限",
}


def wechat_api_words(errcode: int, errmsg: str = "") -> str:
    """WeChat's errcode in words, the code kept (whoever asks WeChat about it needs it)."""
    words = WECHAT_API_ERRORS.get(errcode)
    if words is None:
        return f"微信接口返回错误（错误码 {errcode}：{errmsg[:100]}）"
    return f"{words}（错误码 {errcode}）"
