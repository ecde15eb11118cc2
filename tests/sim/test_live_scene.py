"""The article's live scene through the HTTP API, on SQLite and PostgreSQL: the 与辉同行
session counted and reported, 小杨哥 penalised before Double 11, his score falling below the
hold threshold and his commissions held, 与辉同行's record still good."""

from __future__ import annotations

from hutong.sim.live import play
from hutong.sim.scenario import load_scenario
from tests.conftest import LiveServer


def test_the_penalised_streamer_is_held_and_the_session_is_reported(server: LiveServer) -> None:
    with server.client(server.world.operator_key) as operator:
        scene = play(operator, load_scenario()["live"], scale=0.0002)
        report = operator.get(f"/v1/live/sessions/{scene.session_id}/report").json()
    assert report["views"] == round(87_400_000 * 0.0002)
    assert report["orders"] == round(5_100_000 * 0.0002)
    assert report["products_sold"] > 50 and report["peak_viewers"] > 0
    assert all(s["score"] == 5.0 for s in scene.before.values())
    fallen = scene.after["xiaoyangge"]
    assert fallen["score"] < 3.0
    assert scene.after["yuhuitongxing"]["score"] >= 4.5
    assert {f["factor"]: f["count"] for f in fallen["factors"]}["penalties"] == 12
    held = {h["tenant_id"] for h in scene.holds}
    assert len(held) == 2  # 小杨哥 and 东北雨姐
    assert all(h["reason"].startswith("trust:") for h in scene.holds)
    assert {a["kind"] for a in scene.alerts} == {"below", "held"}
