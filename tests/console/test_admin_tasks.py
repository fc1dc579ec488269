"""The admins' tasks that needed a terminal, done in the console in a real browser (Debian's
Chromium under Playwright) against a real `run.py serve` in dev mode, on SQLite and on
PostgreSQL: console accounts (create with field errors, 绑定 code as text and QR, role and
scope, password, disable/enable, end sessions), a GeoJSON grid upload, a member CSV upload,
stations (new, move, deactivate, CSV), the WeChat menu (检查, 推送 through the sandbox, and
WeChat's refusal in Chinese), every QR code as one zip — and each refused to an instructor.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.browser_util import chromium, need_browser, run_cli, running_server

ADMIN, TEACHER, DEMO_PASSWORD = "demo-admin", "demo-teacher", "xiaoge-demo"  # bot/dev/demo.py
ADMIN_PAGES = ["/console/admin", "/console/admin/menu", "/console/admin/qrcodes",
               "/console/admin/qrcodes.zip", "/console/grids", "/console/members/import",
               "/console/members/staff/new", "/console/members/staff/1"]


def _page(browser: Any, base: str, who: str = ADMIN, password: str = DEMO_PASSWORD) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900},
                               accept_downloads=True).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/")
    return page


def _upload(page: Any, path: Path) -> None:
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_load_state()


def _query(db_url: str, sql: str, **params: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(db_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql), params)).all())
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        return pool.submit(asyncio.run, run()).result()


def _say(base: str, openid: str, words: str) -> str:
    req = urllib.request.Request(f"{base}/simulator/api/send", method="POST", data=json.dumps(
        {"openid": openid, "kind": "text", "content": words}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return "\n".join(json.loads(resp.read())["replies"])


def _sandbox(base: str, path: str) -> Any:
    """A GET of the sandbox's WeChat API with the account's current token (the stable
    token: asking for it again does not replace the bot's)."""
    req = urllib.request.Request(f"{base}/sandbox/cgi-bin/stable_token", method="POST",
                                 data=json.dumps({"grant_type": "client_credential",
                                                  "appid": "wxd0000000000demo",
                                                  "secret": "xiaoge-demo-app-secret"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.loads(resp.read())["access_token"]
    with urllib.request.urlopen(f"{base}/sandbox{path}?access_token={token}", timeout=10) as r:
        return json.loads(r.read())


def test_console_accounts(db_url: str, tmp_path: Path) -> None:
    need_browser()
    import segno
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        made = run_cli(["create-group", "账号测试小组", "--industry", "外卖送餐"], env)
        group = re.search(r"邀请码：(\w+)", made.stdout)
        assert made.returncode == 0 and group, made.stdout + made.stderr
        page = _page(browser, base)
        page.goto(f"{base}/console/members/staff")
        page.get_by_role("link", name="新建账号").click()
        # Bad input: each reason beside its field, nothing typed lost.
        page.fill("#username", "zhang san")
        page.select_option("#role", "officer")
        page.select_option("#grid", "HT")
        page.fill("#password", "long-enough-1")
        page.fill("#password2", "long-enough-2")
        page.get_by_role("button", name="创建账号").click()
        expect(page.locator(".field-error")).to_contain_text(["两次输入的密码不一致"])
        page.fill("#password2", "long-enough-1")
        page.get_by_role("button", name="创建账号").click()
        expect(page.locator(".field-error")).to_have_text(["用户名不能为空、不能有空格、最长64个字符"])
        assert page.input_value("#username") == "zhang san"
        assert page.input_value("#grid") == "HT" and page.input_value("#role") == "officer"
        page.fill("#username", "officer-zhang")
        page.fill("#password", "short")
        page.fill("#password2", "short")
        page.get_by_role("button", name="创建账号").click()
        expect(page.locator(".field-error")).to_have_text(["密码至少8位"])
        page.fill("#password", "good-pass-123")
        page.fill("#password2", "good-pass-123")
        page.get_by_role("button", name="创建账号").click()
        expect(page.locator("p.ok")).to_contain_text("已创建控制台账号 officer-zhang（网格员）")
        code = page.inner_text("#bind-code")
        assert re.fullmatch(r"[2-9A-Z]{6}", code)
        expect(page.locator("#bind-title + p + p")).to_contain_text("有效期至")
        qr = page.get_attribute("#bind-qr", "src")
        assert qr == segno.make(f"绑定 {code}", error="m").png_data_uri(scale=5, border=4)
        user_id = _query(db_url, "SELECT id FROM console_user WHERE username = 'officer-zhang'"
                         )[0][0]
        account = f"{base}/console/members/staff/{user_id}"
        # The code binds the officer's WeChat, which is to get the officer's tag.
        assert "绑定成功" in _say(base, "wx-zhang", f"绑定 {code}")
        assert _query(db_url, "SELECT wanted FROM staff_tag WHERE openid = 'wx-zhang'"
                      ) == [("officer",)]

        # Role and scope: a leader of the group, chosen from the list (the tag follows).
        page.goto(account)
        page.select_option("#role", "leader")
        page.select_option("#group", group.group(1))
        page.get_by_role("button", name="保存角色与范围").click()
        expect(page.locator("p.ok")).to_contain_text("角色与范围已保存")
        assert _query(db_url, "SELECT role, grid_code, group_code FROM console_user "
                      "WHERE id = :id", id=user_id) == [("leader", None, group.group(1))]
        assert _query(db_url, "SELECT wanted FROM staff_tag WHERE openid = 'wx-zhang'"
                      ) == [("leader",)]

        # Their own session, ended from the admin's page.
        theirs = _page(browser, base, "officer-zhang", "good-pass-123")
        page.get_by_role("button", name="结束所有登录会话").click()
        expect(page.locator("p.ok")).to_contain_text("登录会话已结束")
        theirs.goto(f"{base}/console/")
        assert "/console/login" in theirs.url

        # A new password: too short is explained, then set; the old one no longer works.
        page.fill("#password", "tiny")
        page.fill("#password2", "tiny")
        page.get_by_role("button", name="设置新密码").click()
        expect(page.locator(".field-error")).to_have_text(["密码至少8位"])
        page.fill("#password", "newer-pass-456")
        page.fill("#password2", "newer-pass-456")
        page.get_by_role("button", name="设置新密码").click()
        expect(page.locator("p.ok")).to_contain_text("新密码已设置")
        _page(browser, base, "officer-zhang", "newer-pass-456").context.close()

        # Disabled: no login, unbound, the tag taken off; enabled again: a login works.
        page.get_by_role("button", name="停用账号").click()
        expect(page.locator("p.ok")).to_contain_text("账号已停用")
        assert _query(db_url, "SELECT active, openid FROM console_user WHERE id = :id",
                      id=user_id) == [(False, None)]
        assert _query(db_url, "SELECT wanted FROM staff_tag WHERE openid = 'wx-zhang'"
                      ) == [("",)]
        theirs.goto(f"{base}/console/login")
        theirs.fill("input[name=username]", "officer-zhang")
        theirs.fill("input[name=password]", "newer-pass-456")
        theirs.get_by_role("button", name="登录").click()
        assert "/console/login" in theirs.url
        page.get_by_role("button", name="启用账号").click()
        expect(page.locator("p.ok")).to_contain_text("账号已启用")
        page.get_by_role("button", name="生成绑定码").click()
        expect(page.locator("#bind-code")).to_have_text(re.compile(r"^[2-9A-Z]{6}$"))
        _page(browser, base, "officer-zhang", "newer-pass-456").context.close()
        page.goto(f"{base}/console/members/staff")
        row = page.locator("tr", has_text="officer-zhang")
        expect(row).to_contain_text("党小组长")
        expect(row).to_contain_text("账号测试小组")
        # The admin cannot lock themselves out: no 停用 on their own page, nor a role change.
        own = _query(db_url, "SELECT id FROM console_user WHERE username = :u", u=ADMIN)[0][0]
        page.goto(f"{base}/console/members/staff/{own}")
        expect(page.get_by_role("button", name="停用账号")).to_have_count(0)
        page.select_option("#role", "officer")
        page.get_by_role("button", name="保存角色与范围").click()
        expect(page.locator("#role ~ .field-error").first).to_contain_text("不能更改自己的角色")
        assert _query(db_url, "SELECT role FROM console_user WHERE id = :id", id=own
                      ) == [("admin",)]


def test_grid_upload(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    square = [[[119.90, 31.60], [119.91, 31.60], [119.91, 31.61], [119.90, 31.61],
               [119.90, 31.60]]]

    def feature(props: dict[str, Any], coords: Any = square) -> dict[str, Any]:
        return {"type": "Feature", "properties": props,
                "geometry": {"type": "Polygon", "coordinates": coords}}

    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature({"code": "XB1", "name": "测试网格一", "officers": ["demo-officer"]}),
        feature({"code": "XB2", "name": "测试网格二", "officers": ["nobody-here"]}),
        feature({"code": "XB3", "name": "测试网格三"}, [[[119.9, 31.6], [119.91, 31.6]]]),
    ]}), encoding="utf-8")
    good = tmp_path / "good.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature({"code": "XB1", "name": "测试网格一", "officers": ["demo-officer"]})]}),
        encoding="utf-8")
    with running_server(tmp_path, db_url) as (base, _env), chromium() as browser:
        page = _page(browser, base)
        page.goto(f"{base}/console/admin")
        page.get_by_role("link", name="网格").first.click()
        before = page.locator("#grids tbody tr").count()
        assert before >= 1
        _upload(page, bad)
        expect(page.locator("p.error")).to_contain_text("未导入任何网格：2 处有误")
        rows = page.locator("#rejected tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("第2个要素（XB2）")
        expect(rows.nth(0)).to_contain_text("nobody-here")
        expect(rows.nth(1)).to_contain_text("第3个要素（XB3）")
        expect(rows.nth(1)).to_contain_text("a ring needs at least 4 positions")
        expect(page.locator("#grids tbody tr")).to_have_count(before)  # nothing imported
        not_json = tmp_path / "x.geojson"
        not_json.write_text("{not json", encoding="utf-8")
        _upload(page, not_json)
        expect(page.locator("p.error")).to_contain_text("不是有效的 JSON")
        _upload(page, good)
        expect(page.locator("#imported")).to_have_text("导入完成：新增 1，更新 0，未变 0。")
        row = page.locator("#grids tbody tr", has_text="XB1")
        expect(row).to_contain_text("测试网格一")
        expect(row).to_contain_text("演示网格员")  # the officer by name, not login
        expect(row.locator("td.num")).to_have_text("0")
        # The open report counts are the database's.
        counts = dict(_query(_env["XIAOGE_DATABASE__URL"], (
            "SELECT grid_code, count(*) FROM report WHERE status IN "
            "('已受理', '已派单', '处理中') AND grid_code IS NOT NULL GROUP BY grid_code")))
        for code, n in counts.items():
            expect(page.locator("#grids tbody tr", has_text=code).locator("td.num")
                   ).to_have_text(str(n))


def test_member_upload(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    header = "openid,name,mobile,industry,platform,party_status\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "imp-1,赵导入,13812340001,外卖送餐,美团,中共党员\n"
                   "imp-2,钱导入,12345,外卖送餐,美团,中共党员\n"
                   "imp-3,孙导入,13812340003,火星行业,美团,中共党员\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(header + "imp-1,赵导入,13812340001,外卖送餐,美团,中共党员\n"
                    "imp-2,钱导入,13812340002,快递物流,顺丰,群众\n", encoding="utf-8")
    wrong_header = tmp_path / "wrong.csv"
    wrong_header.write_text("openid,name\nimp-9,李\n", encoding="utf-8")
    with running_server(tmp_path, db_url) as (base, _env), chromium() as browser:
        page = _page(browser, base)
        page.goto(f"{base}/console/members")
        page.get_by_role("link", name="导入成员").click()
        _upload(page, bad)
        expect(page.locator("p.error")).to_contain_text("未导入任何数据：2 行有误")
        rows = page.locator("#rejected tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("第3行")
        expect(rows.nth(0)).to_contain_text("mobile")
        expect(rows.nth(1)).to_contain_text("第4行")
        expect(rows.nth(1)).to_contain_text("industry")
        assert _query(db_url, "SELECT count(*) FROM member WHERE openid LIKE 'imp-%'"
                      ) == [(0,)]
        _upload(page, wrong_header)
        expect(page.locator("p.error")).to_contain_text("文件表头应为 openid,name,mobile")
        _upload(page, good)
        expect(page.locator("#imported")).to_have_text("导入完成：新增 2，更新 0，未变 0。")
        page.goto(f"{base}/console/members?q=导入")
        expect(page.locator("main")).to_contain_text("赵导入")
        expect(page.locator("main")).to_contain_text("钱导入")
        assert _query(db_url, "SELECT consent_source FROM member WHERE openid = 'imp-2'"
                      ) == [("offline",)]


def test_stations_new_move_deactivate_and_csv(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    from models import geo

    with running_server(tmp_path, db_url) as (base, _env), chromium() as browser:
        page = _page(browser, base)
        page.goto(f"{base}/console/stations")
        page.get_by_role("link", name="新增驿站").click()
        page.fill("#code", "bad code!")
        page.fill("#name", "测试新驿站")
        page.fill("#lat", "abc")
        page.fill("#lng", "119.95")
        page.fill("#hours", "25:00-26:00")
        page.get_by_role("button", name="添加驿站").click()
        errors = page.locator(".field-error")
        expect(errors).to_have_count(3)
        expect(page.locator("#code + .field-error")).to_contain_text("编号")
        expect(page.locator("#lat + .field-error")).to_contain_text("坐标无效")
        expect(page.locator("#hours + .field-error")).to_contain_text("营业时间")
        assert page.input_value("#name") == "测试新驿站" and page.input_value("#lat") == "abc"
        page.fill("#code", "HT01")  # a demo station's code: taken
        page.fill("#lat", "31.7")
        page.fill("#hours", "08:00-20:00")
        page.get_by_role("button", name="添加驿站").click()
        expect(page.locator("#code + .field-error")).to_contain_text("已有驿站")
        page.fill("#code", "NEW01")
        page.fill("#lat", "31.71")
        page.fill("#lng", "119.96")
        page.select_option("#datum", "wgs84")
        page.get_by_role("button", name="添加驿站").click()
        expect(page.locator("p.ok")).to_have_text("已保存。")
        moved = geo.to_gcj02(geo.Point(31.71, 119.96), "wgs84")
        assert abs(float(page.input_value("#lat")) - moved.lat) < 1e-6
        assert abs(float(page.input_value("#lng")) - moved.lng) < 1e-6
        # Move it: new WGS-84 coordinates, converted as the import converts them.
        page.fill("#lat", "31.72")
        page.fill("#lng", "119.97")
        page.select_option("#datum", "wgs84")
        page.get_by_role("button", name="保存").click()
        expect(page.locator("p.ok")).to_have_text("已保存。")
        moved = geo.to_gcj02(geo.Point(31.72, 119.97), "wgs84")
        lat, lng, datum = _query(db_url, "SELECT lat, lng, source_datum FROM station "
                                 "WHERE code = 'NEW01'")[0]
        assert abs(lat - moved.lat) < 1e-6 and abs(lng - moved.lng) < 1e-6 and datum == "wgs84"
        page.fill("#lat", "95")
        page.get_by_role("button", name="保存").click()
        expect(page.locator("#lat + .field-error")).to_contain_text("坐标无效")
        assert page.input_value("#lat") == "95"
        # Deactivate, then reactivate.
        page.goto(page.url.split("?")[0])
        page.uncheck("input[name=active]")
        page.get_by_role("button", name="保存").click()
        page.goto(f"{base}/console/stations?q=NEW01")
        expect(page.locator("tbody tr", has_text="NEW01")).to_contain_text("停用")
        page.locator("tbody tr", has_text="NEW01").get_by_role("link", name="编辑").click()
        page.check("input[name=active]")
        page.get_by_role("button", name="保存").click()
        page.goto(f"{base}/console/stations?q=NEW01")
        expect(page.locator("tbody tr", has_text="NEW01")).to_contain_text("启用")
        # The CSV upload: a broken row refuses the whole file; a good file is imported.
        header = "code,name,kind,address,lat,lng,datum,radius_m,services,hours,phone\n"
        bad = tmp_path / "bad.csv"
        bad.write_text(header + "CSV01,导入驿站一,驿站,湖塘,31.70,119.94,gcj02,,饮水,24h,\n"
                       "CSV02,导入驿站二,火星站,湖塘,31.70,119.94,gcj02,,饮水,24h,\n",
                       encoding="utf-8")
        good = tmp_path / "good.csv"
        good.write_text(header + "CSV01,导入驿站一,驿站,湖塘,31.70,119.94,gcj02,,饮水,24h,\n",
                        encoding="utf-8")
        page.goto(f"{base}/console/stations/import")
        _upload(page, bad)
        expect(page.locator("p.error")).to_contain_text("未导入任何驿站：1 行有误")
        expect(page.locator("tbody tr")).to_contain_text(["第3行"])
        assert _query(db_url, "SELECT count(*) FROM station WHERE code LIKE 'CSV%'") == [(0,)]
        _upload(page, good)
        expect(page.locator("p.ok")).to_contain_text("导入完成：新增 1")


def test_menu_check_and_push(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, _env), chromium() as browser:
        page = _page(browser, base)
        page.goto(f"{base}/console/admin")
        page.get_by_role("link", name="公众号菜单").click()
        main = page.locator("main")
        expect(main).to_contain_text("默认菜单（所有关注者）")
        expect(main).to_contain_text("网格员菜单")
        expect(main).to_contain_text("待办工单")
        page.get_by_role("button", name="检查").click()
        expect(page.locator("#checked")).to_contain_text("检查通过")
        page.get_by_role("button", name="推送").click()
        expect(page.locator("#pushed")).to_contain_text("菜单已推送")
        expect(page.locator("#pushed")).to_contain_text("网格员菜单已推送")
        menuids = page.locator("#pushed-title ~ p code").all_inner_texts()
        assert menuids and all(m.strip() for m in menuids)
        current = _sandbox(base, "/cgi-bin/menu/get")  # what WeChat (the sandbox) holds now
        assert {str(m["menuid"]) for m in current["conditionalmenu"]} == set(menuids)
        assert [b["name"] for b in current["menu"]["button"]] == ["驿站", "党建", "随手拍"]
        # WeChat refuses: its reason in Chinese, never a 500.
        fault = urllib.request.Request(f"{base}/sandbox/control/faults", method="POST",
                                       data=json.dumps({"errcode": 40018, "times": 1,
                                                        "path": "/cgi-bin/menu/create"}).encode(),
                                       headers={"Content-Type": "application/json"})
        urllib.request.urlopen(fault, timeout=10).close()
        with page.expect_response(lambda r: r.url.endswith("/menu/push")) as answer:
            page.get_by_role("button", name="推送").click()
        assert answer.value.status == 502
        expect(page.locator("#failed")).to_have_text("推送菜单失败：按钮名称太长（错误码 40018）")


def test_menu_problems_are_shown(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    bad = json.dumps({"officer": {"button": [
        {"name": "一个非常长的菜单名字", "type": "click", "key": "待办"},
        {"name": "链接", "type": "view", "url": "ftp://x"}]}})
    with running_server(tmp_path, db_url, XIAOGE_MENU__CONDITIONAL=bad) as (base, _env), \
            chromium() as browser:
        page = _page(browser, base)
        page.goto(f"{base}/console/admin/menu")
        page.get_by_role("button", name="检查").click()
        problems = page.locator("#problems li")
        expect(problems).to_have_count(2)
        expect(problems.nth(0)).to_contain_text("menu.conditional.officer.button[0].name")
        expect(problems.nth(0)).to_contain_text("超过4个汉字")
        expect(problems.nth(1)).to_contain_text("view 按钮需要 http(s) 链接")
        page.get_by_role("button", name="推送").click()  # refused before any call
        expect(problems).to_have_count(2)
        expect(page.locator("#pushed")).to_have_count(0)


def test_qrcodes_zip(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, env), chromium() as browser:
        made = run_cli(["create-group", "二维码测试小组", "--industry", "外卖送餐"], env)
        invite = re.search(r"邀请码：(\w+)", made.stdout)
        assert made.returncode == 0 and invite, made.stdout + made.stderr
        page = _page(browser, base)
        page.goto(f"{base}/console/admin")
        page.get_by_role("link", name="二维码").click()
        expect(page.locator("main")).to_contain_text("下载全部二维码")
        listed = page.locator("tbody tr").count()
        with page.expect_download() as download:
            page.get_by_role("link", name="下载全部二维码（zip）").click()
        data = Path(download.value.path()).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            assert f"group-{invite.group(1)}.png" in names and "station-HT01.png" in names
            assert len(names) == listed
            assert archive.read("station-HT01.png").startswith(b"\x89PNG")
        # What `run.py qrcodes` writes: the same files.
        out = tmp_path / "qr"
        assert run_cli(["qrcodes", "--out", str(out)], env).returncode == 0
        assert sorted(p.name for p in out.iterdir()) == sorted(names)


def test_admin_pages_are_refused_to_others(db_url: str, tmp_path: Path) -> None:
    need_browser()
    from playwright.sync_api import expect

    with running_server(tmp_path, db_url) as (base, _env), chromium() as browser:
        page = _page(browser, base, TEACHER)
        assert "/console/admin" not in page.eval_on_selector_all(
            "nav.menu a", "els => els.map(a => a.getAttribute('href'))")
        for path in ADMIN_PAGES:
            resp = page.goto(base + path)
            assert resp is not None and resp.status == 403, (path, resp and resp.status)
            expect(page.locator("h1")).to_contain_text("没有权限")
        for path in ("/console/stations/new", "/console/members/staff"):
            resp = page.goto(base + path)
            assert resp is not None and resp.status in (403, 404), path
        # A write is refused too (with the form's own token, so it is the role that counts).
        page.goto(f"{base}/console/")
        token = page.get_attribute("input[name=_csrf]", "value")
        for path in ("/console/admin/menu/push", "/console/members/staff/new",
                     "/console/members/staff/1/active", "/console/grids",
                     "/console/members/import"):
            resp = page.request.post(base + path, form={"_csrf": token or ""})
            assert resp.status == 403, (path, resp.status)
