"""Idempotency-Key on /api/v1/notices and /api/v1/courses/{code}/notices names one whole
request: the same title, body, audience, url and time replay the first notice (200); any of
them different is a 409, whatever else matches. A retry without `at` means the first
request's "now", so it replays an immediate notice later too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from models.course import Course, Enrolment
from models.member import Member
from tests.conftest import Bot

COURSE = "IDEM1"


async def _seed(bot: Bot, sessions) -> None:
    now = bot.clock.now()
    past, soon = now - timedelta(days=2), now + timedelta(days=20)
    async with sessions() as s, s.begin():
        member = Member(openid="o-idem", name="张三", mobile="13800138000",
                        industry="快递物流", platform="顺丰", party_status="中共党员",
                        consent_at=past, consent_source="wechat", registered_at=past,
                        created_at=past, last_inbound_at=now)
        course = Course(code=COURSE, title="党史学习", start_at=soon,
                        end_at=soon + timedelta(hours=2), status="published", timed_at=past,
                        created_at=past, place="湖塘红色驿站", lat=31.7093, lng=119.9512,
                        capacity=5, hours=2)
        s.add_all([member, course])
        await s.flush()
        s.add(Enrolment(course_id=course.id or 0, member_id=member.id or 0, status="enrolled",
                        queued_at=past, enrolled_at=past))


async def _post(bot: Bot, path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
    answer = await bot.client.post(path, json=body, headers={
        "Authorization": f"Bearer {bot.settings.api.token}", "Idempotency-Key": key})
    return answer.status, await answer.json()


async def _replays_only_the_same_request(bot: Bot, path: str, body: dict[str, Any]) -> None:
    first = await _post(bot, path, body, f"{path}-scheduled")
    assert first[0] == 201, first
    # The identical request, later: the first notice, not a twin.
    bot.clock.advance(timedelta(minutes=5))
    assert await _post(bot, path, body, f"{path}-scheduled") == (200, first[1])
    # The same instant written with another offset is the same time.
    same_at = {**body, "at": "2100-01-01T01:00:00+00:00"}
    assert await _post(bot, path, same_at, f"{path}-scheduled") == (200, first[1])
    for changed in ({"url": "https://example.org/other"}, {"url": None},
                    {"at": "2100-01-01T09:01"}, {"at": None}, {"title": "另一个标题"}):
        status, answer = await _post(bot, path, {**body, **changed}, f"{path}-scheduled")
        assert status == 409, (changed, answer)
        assert "Idempotency-Key" in answer["error"], answer
    # An immediate notice (no `at`): a retry without `at` replays it; one naming a time
    # (even the moment it went) or another url does not.
    now_body = {k: v for k, v in body.items() if k != "at"}
    sent = await _post(bot, path, now_body, f"{path}-now")
    assert sent[0] == 201, sent
    bot.clock.advance(timedelta(seconds=30))
    assert await _post(bot, path, now_body, f"{path}-now") == (200, sent[1])
    for changed in ({"at": "2099-01-01T09:00"}, {"url": "https://example.org/b"}):
        status, answer = await _post(bot, path, {**now_body, **changed}, f"{path}-now")
        assert status == 409, (changed, answer)


async def test_notice_key_names_the_whole_request(bot: Bot, sessions) -> None:
    await _seed(bot, sessions)
    await _replays_only_the_same_request(bot, "/api/v1/notices", {
        "title": "今晚学习", "body": "八点在驿站学习", "audience": "all",
        "url": "https://example.org/a", "at": "2100-01-01T09:00"})


async def test_course_notice_key_names_the_whole_request(bot: Bot, sessions) -> None:
    await _seed(bot, sessions)
    await _replays_only_the_same_request(bot, f"/api/v1/courses/{COURSE}/notices", {
        "title": "课程提醒", "body": "请带好笔记本", "url": "https://example.org/a",
        "at": "2100-01-01T09:00"})
