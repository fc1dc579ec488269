"""The helpers every texts module uses, and the general lines (help, errors, cancel)."""

from __future__ import annotations


def numbered(options: list[str]) -> str:
    return " ".join(f"{i} {name}" for i, name in enumerate(options, 1))


STEP_END = "或发送「取消」退出。"  # every dialog step's prompt ends so (bot/dialogs.py checks)


def step(question: str, how: str) -> str:
    """A dialog step's prompt: the question, then how to answer it and how to leave."""
    return f"{question}\n{how}，{STEP_END}"


# --- general -------------------------------------------------------------------------------

HELP_HEADER = "【小哥红驿】发送以下文字即可："
HELP_FOOTER = "任何时候发送「取消」可退出当前操作。"

UNKNOWN_NON_TEXT = "收到了，但这里暂时处理不了这类消息。发送「帮助」查看能做的事。"
CANCELLED = "已取消。发送「帮助」查看能做的事。"
NOTHING_TO_CANCEL = "当前没有进行中的操作。发送「帮助」查看能做的事。"
DIALOG_EXPIRED = "上次的操作超过30分钟未完成，已自动结束。"
DIALOG_NEEDS_TEXT = "请直接回复文字。"
TOP_WORDS = "常用：「签到」「附近」「上报」「我的」；全部功能发送「帮助」。"
GREETING = "您好！我是小哥红驿，随时为您服务。"
THANKS = "不客气！跑单辛苦了，路上注意安全。"
EMOJI_REPLY = "收到您的表情啦！"
HUMAN_HOTLINE = "需要人工服务，请拨打 {hotline}{hours}。也可以直接留言，工作人员会回复您。"
HUMAN_NO_HOTLINE = "需要人工服务，请直接留言说明您的问题，工作人员看到后会回复您。"
VOICE_UNHEARD = "没听清这条语音。请打字发给我，或者慢一点再说一遍。发送「帮助」查看能做的事。"
VOICE_UNHEARD_STEP = "没听清这条语音。请打字回复，或者再发一次语音。"  # then the step's question
ERROR = "抱歉，系统开小差了，请稍后再试。"
