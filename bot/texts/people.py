"""Following, registration, 我的 and its edits, 注销, staff binding."""

from __future__ import annotations

from bot.texts.base import numbered, step
from models.member import INDUSTRIES, PARTY_STATUSES

# --- following -----------------------------------------------------------------------------

WELCOME = (
    "欢迎关注小哥红驿！这里是武进新就业群体的红色驿站服务号。\n"
    "发送「注册」完成登记，即可签到驿站、加入云上党小组、随手拍上报、参加小哥党校。"
)
WELCOME_BACK = "欢迎回来，{name}！发送「帮助」查看能做的事。"

# --- registration --------------------------------------------------------------------------

REG_INTRO = "先花1分钟完成登记（共6步）。"
REG_NEEDED = "这项服务需要先登记。" + REG_INTRO
REG_ALREADY = "您已完成登记。发送「我的」查看资料，发送「修改资料」可修改。"
ASK_NAME = step("第1步：请问您的姓名？", "回复姓名")
ASK_MOBILE = step("第2步：您的手机号是？", "回复11位手机号")
ASK_INDUSTRY = step("第3步：您从事哪个行业？\n" + numbered(INDUSTRIES), "回复数字")
ASK_PLATFORM = step("第4步：您所在的平台或公司？（如：美团、顺丰、滴滴）", "回复名称")
ASK_PARTY_STATUS = step("第5步：您的政治面貌？\n" + numbered(PARTY_STATUSES), "回复数字")
ASK_CONSENT = step(
    "第6步：个人信息保护说明\n"
    "· 我们保存：姓名、手机号、行业、平台、政治面貌，以及您的签到、上报和学习记录。\n"
    "· 用途：驿站服务、党组织联系、积分与学时统计；仅所在党组织和管理员可见。\n"
    "· 删除：随时发送「注销」删除个人信息。", "同意请回复「同意」，不同意回复「不同意」")
CONSENT_YES = {"同意", "是", "好", "确认", "yes", "y", "ok"}
CONSENT_NO = {"不同意", "否", "不", "no", "n"}
ASK_CONSENT_AGAIN = "请回复「同意」或「不同意」。"
REG_DECLINED = "已取消登记，您的信息没有保存。需要时可再次发送「注册」。"
REG_DONE = "登记完成，{name}！发送「帮助」查看能做的事。"
LOOKS_LIKE_COMMAND = "您正在登记，「{text}」不像是答案。"

INVALID = {
    "name_digits": "姓名里不能有数字。",
    "name_length": "姓名应为2到20个字。",
    "name_chars": "姓名只能包含汉字或字母。",
    "mobile_digits": "手机号只能是数字。",
    "mobile_length": "手机号应为11位数字。",
    "mobile_prefix": "这不是有效的手机号（应以13到19开头）。",
    "choice_range": "没有这个序号。",
    "choice_unknown": "没认出这个选项。",
    "platform_length": "平台或公司名称应为1到30个字。",
}

# --- profile -------------------------------------------------------------------------------

FIELD_NAMES = {
    "name": "姓名",
    "mobile": "手机",
    "industry": "行业",
    "platform": "平台/公司",
    "party_status": "政治面貌",
}
PROFILE = (
    "【我的】\n"
    "姓名：{name}\n"
    "手机：{mobile}\n"
    "行业：{industry} · {platform}\n"
    "政治面貌：{party_status}\n"
    "红色积分：{points}\n"
    "登记于：{registered}\n"
    "发送「修改资料」可修改。"
)
EDIT_ASK_FIELD = step("要修改哪一项？\n" + numbered(list(FIELD_NAMES.values())), "回复数字")
EDIT_ASK_VALUE = {
    "name": step("新的姓名是？", "回复姓名"),
    "mobile": step("新的手机号是？", "回复11位手机号"),
    "industry": step("请选择行业：\n" + numbered(INDUSTRIES), "回复数字"),
    "platform": step("新的平台或公司是？", "回复名称"),
    "party_status": step("请选择政治面貌：\n" + numbered(PARTY_STATUSES), "回复数字"),
}
EDIT_DONE = "已更新{field}：{value}"
EDIT_ASK_VALUE_ANY = step("要改成什么？", "回复新的内容")

ERASE_CONFIRM = step("注销将删除您的姓名、手机号等个人信息，积分清零；签到和上报记录会匿名保留。",
                     "确认请回复「确认注销」")
ERASE_WORDS = {"确认注销", "确认"}
ERASE_ASK_AGAIN = "请回复「确认注销」或「取消」。"
ERASE_DONE = "已注销，您的个人信息已删除。感谢您的参与，需要时可再次发送「注册」。"
ERASE_NOTHING = "您还没有登记，没有需要删除的个人信息。发送「注册」可以登记。"
# What 注销 leaves in the texts it keeps: for the name inside a report, for a leave reason.
ERASED_NAME = "某某"
ERASED_TEXT = "（内容已随注销删除）"

# --- staff ---------------------------------------------------------------------------------

BIND_USAGE = "请发送「绑定 绑定码」，绑定码在创建控制台账号时显示。"
BIND_DONE = ("绑定成功：控制台账号 {username}（{role}）已与本微信关联。"
             "几分钟内下方菜单会换成{role}菜单（没变时取消关注再关注即可），"
             "发送「帮助」查看您能用的命令。")
BIND_UNKNOWN = "绑定码不正确。请核对后重新发送「绑定 绑定码」。"
BIND_EXPIRED = "绑定码已过期（有效期10分钟），请向管理员重新获取。"
BIND_USED = "这个绑定码已经用过了。请向管理员获取新的绑定码，再发送「绑定 绑定码」。"
BIND_LOCKED = "绑定码错误次数过多，请 {minutes} 分钟后再试。"
STAFF_ONLY = "「{word}」仅限{roles}使用。如您是工作人员，请先发送「绑定 绑定码」。"
UNKNOWN_SCENE = "这个二维码已失效或无法识别。发送「帮助」查看能做的事。"

# Words of the product; an answer in a dialog that is one of these is probably not an answer.
COMMAND_WORDS = {
    "帮助", "菜单", "注册", "我的", "修改资料", "注销", "签到", "附近", "附近驿站", "我的签到",
    "加入小组", "我的小组", "退出小组", "上报", "我的上报", "评价", "课程", "报名", "取消报名",
    "我的课程", "取消", "未解决", "绑定", "小组通知", "通知情况", "待办", "个人中心",
}

HELP_HELP = "帮助 — 显示本菜单"
HELP_REGISTER = "注册 — 登记个人信息"
HELP_PROFILE = "我的 — 资料和红色积分"
HELP_EDIT = "修改资料 — 修改一项资料"
HELP_ERASE = "注销 — 删除我的个人信息"
HELP_BIND = "绑定 绑定码 — 工作人员绑定控制台账号"
