"""`run.py import-stations` and `run.py qrcodes` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from tests.processes.test_command_line import env_for, free_port, run

HEADER = "code,name,kind,address,lat,lng,datum,radius_m,services,hours,phone\n"
GOOD_CSV = HEADER + (
    "HT01,湖塘驿站,驿站,湖塘镇花园街,31.7093,119.9512,gcj02,200,饮水、充电、微波炉,24h,0519-1\n"
    "HT02,延政路服务吧,服务吧,延政中路,31.7012,119.9403,wgs84,,饮水,"
    "一至五 08:00-18:00；六日 09:00-17:00,\n"
)
GOOD_YAML = """\
- code: NT01
  name: 牛塘驿站
  kind: 驿站
  lat: 31.7352
  lng: 119.8991
  services: [饮水, 充电]
  hours: 06:30-22:30

- code: HT01
  name: 湖塘红色驿站
  kind: 驿站
  lat: 31.7093
  lng: 119.9512
  services: 饮水、充电、微波炉
  hours: 24h
"""


def test_import_csv_then_yaml(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    (tmp_path / "s.csv").write_text(GOOD_CSV, encoding="utf-8")
    first = run(["import-stations", str(tmp_path / "s.csv")], env)
    assert first.returncode == 0, first.stderr
    assert "新增 2，更新 0，未变 0" in first.stdout
    again = run(["import-stations", str(tmp_path / "s.csv")], env)
    assert "新增 0，更新 0，未变 2" in again.stdout
    (tmp_path / "s.yaml").write_text(GOOD_YAML, encoding="utf-8")
    yaml_run = run(["import-stations", str(tmp_path / "s.yaml")], env)
    assert yaml_run.returncode == 0, yaml_run.stderr
    assert "新增 1，更新 1，未变 0" in yaml_run.stdout
    assert "新增：NT01" in yaml_run.stdout and "更新：HT01" in yaml_run.stdout

    out = tmp_path / "qr"
    made = run(["qrcodes", "--out", str(out)], env)
    assert made.returncode == 0, made.stderr
    pngs = sorted(p.name for p in out.iterdir())
    assert pngs == ["station-HT01.png", "station-HT02.png", "station-NT01.png"]
    assert (out / "station-HT01.png").read_bytes().startswith(b"\x89PNG")


def test_broken_files_are_refused_whole(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    broken = HEADER + (
        "HT01,湖塘驿站,驿站,,31.7093,119.9512,,,饮水,24h,\n"
        "HT02,无时间,驿站,,31.70,119.94,,,,,\n"
        "HT03,坐标坏,驿站,,abc,119.94,,,,24h,\n"
    )
    (tmp_path / "bad.csv").write_text(broken, encoding="utf-8")
    result = run(["import-stations", str(tmp_path / "bad.csv")], env)
    assert result.returncode == 2
    assert "未导入任何驿站：2 行有误" in result.stderr
    assert "第3行：缺少 hours" in result.stderr and "第4行：坐标无效" in result.stderr
    listing = run(["import-stations", str(tmp_path / "bad.csv")], env)
    assert "Traceback" not in listing.stderr

    (tmp_path / "cols.csv").write_text("code,name\nX,Y\n", encoding="utf-8")
    cols = run(["import-stations", str(tmp_path / "cols.csv")], env)
    assert cols.returncode == 2 and "缺少列：kind, lat, lng, hours" in cols.stderr

    (tmp_path / "bad.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    bad_yaml = run(["import-stations", str(tmp_path / "bad.yaml")], env)
    assert bad_yaml.returncode == 2 and "不是有效的 YAML" in bad_yaml.stderr

    (tmp_path / "map.yaml").write_text("code: HT01\n", encoding="utf-8")
    not_list = run(["import-stations", str(tmp_path / "map.yaml")], env)
    assert not_list.returncode == 2 and "应是一个列表" in not_list.stderr

    yaml_lines = GOOD_YAML.replace("hours: 24h", "hours: 九点到五点")
    (tmp_path / "lines.yaml").write_text(yaml_lines, encoding="utf-8")
    lines = run(["import-stations", str(tmp_path / "lines.yaml")], env)
    assert lines.returncode == 2 and "第9行：hours" in lines.stderr  # where the item starts

    missing = run(["import-stations", str(tmp_path / "nope.csv")], env)
    assert missing.returncode == 2 and "无法读取" in missing.stderr
